"""Off-policy estimators against closed-form values."""
import numpy as np
import pytest

from policy_learning.ope.per_decision import (DoublyRobust, InverseProbabilityWeighting, OPEError,
                                 SelfNormalizedInverseProbabilityWeighting, evaluate)


def test_hand_computed_values():
    reward = np.array([1.0, 0.0, 1.0, 1.0])
    action = np.array([0, 1, 1, 0])
    pscore = np.array([0.5, 0.5, 0.25, 0.5])
    target = np.array([[1, 0], [0, 1], [0, 1], [0.5, 0.5]], dtype=float)
    q = np.array([[0.8, 0.2], [0.6, 0.4], [0.3, 0.5], [0.5, 0.5]])
    w = np.array([2.0, 2.0, 4.0, 1.0])
    assert InverseProbabilityWeighting().estimate_policy_value(reward, action, pscore, target) == pytest.approx((2 + 0 + 4 + 1) / 4)
    assert SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(reward, action, pscore, target) == pytest.approx(7 / 9)
    dm = np.array([0.8, 0.4, 0.5, 0.5])
    corr = w * (reward - np.array([0.8, 0.4, 0.5, 0.5]))
    assert DoublyRobust().estimate_policy_value(reward, action, pscore, target, q) == pytest.approx((dm + corr).mean())


def test_unbiased_on_a_synthetic_bandit_with_known_value():
    rng = np.random.default_rng(0)
    n, k = 200_000, 4
    means = np.array([0.2, 0.5, 0.7, 0.1])
    logging = np.array([0.4, 0.3, 0.2, 0.1])
    action = rng.choice(k, size=n, p=logging)
    reward = (rng.random(n) < means[action]).astype(float)
    target = np.tile([0.0, 0.25, 0.75, 0.0], (n, 1))
    truth = target[0] @ means
    q = np.tile(means + 0.1, (n, 1))  # a biased reward model: DR must still be unbiased
    report = evaluate(reward, action, logging[action], target, q, logging_action_dist=np.tile(logging, (n, 1)),
                      n_bootstrap=200, alpha=0.01)
    for est in report.estimates:
        if est.estimator == "DM":  # the direct method is exactly as biased as its reward model
            assert est.value == pytest.approx(target[0] @ (means + 0.1))
            continue
        if est.estimator != "DRos":  # shrinks every weight: biased, its bias inside the interval
            assert est.value == pytest.approx(truth, abs=0.01), est
        assert est.ci_low <= truth <= est.ci_high
    assert report.unsupported_mass == 0 and not report.warnings
    w = target[np.arange(n), action] / logging[action]
    assert report.effective_sample_size == pytest.approx(w.sum() ** 2 / (w ** 2).sum())


def test_bad_inputs_raise_or_warn():
    ones = np.ones(3)
    target = np.array([[1.0, 0.0]] * 3)
    with pytest.raises(OPEError, match="no logged"):
        evaluate([], [], [], np.zeros((0, 2)))
    with pytest.raises(OPEError, match="propensities"):
        evaluate(ones, [0, 0, 1], [0.5, 0.0, 0.5], target)
    with pytest.raises(OPEError, match="propensities"):
        evaluate(ones, [0, 0, 1], [0.5, np.nan, 0.5], target)
    with pytest.raises(OPEError, match="estimated_rewards"):
        DoublyRobust().estimate_policy_value(ones, [0, 0, 1], [0.5] * 3, target)
    # the logging policy never tried action 0: an explicit support warning, no NaN
    report = evaluate(ones, [1, 1, 1], [1.0] * 3, target, logging_action_dist=np.array([[0.0, 1.0]] * 3))
    assert report.unsupported_mass == 1.0
    assert any("support" in w for w in report.warnings) and any("overlap" in w for w in report.warnings)
    assert all(np.isfinite(e.value) for e in report.estimates)


def _bandit(n=5000, seed=4):
    rng = np.random.default_rng(seed)
    logging = np.array([0.5, 0.3, 0.2])
    action = rng.choice(3, size=n, p=logging)
    reward = (rng.random(n) < np.array([0.2, 0.6, 0.4])[action]).astype(float)
    target = np.tile([0.1, 0.7, 0.2], (n, 1))
    return reward, action, logging[action], target, np.tile([0.25, 0.55, 0.45], (n, 1))


@pytest.mark.parametrize("estimator", [InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(),
                                       DoublyRobust()])
def test_each_estimator_has_obps_shape(estimator):
    from dataclasses import is_dataclass

    args = _bandit()
    assert is_dataclass(estimator) and estimator.estimator_name in ("IPS", "SNIPS", "DR")
    rounds = estimator.estimate_round_rewards(*args)
    value = estimator.estimate_policy_value(*args)
    assert rounds.shape == (len(args[0]),) and rounds.mean() == pytest.approx(value)
    ci = estimator.estimate_interval(*args, alpha=0.1, n_bootstrap=200, seed=1)
    assert ci["mean"] == value and ci["lower"] < value < ci["upper"]
    assert estimator.estimate_interval(*args, alpha=0.1, n_bootstrap=200, seed=1) == ci  # seeded
    narrower = estimator.estimate_interval(*args, alpha=0.5, n_bootstrap=200, seed=1)
    assert ci["lower"] <= narrower["lower"] <= narrower["upper"] <= ci["upper"]


def test_evaluate_reports_each_estimators_own_interval():
    args = _bandit()
    report = evaluate(*args, n_bootstrap=150, seed=2)
    for est in (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DoublyRobust()):
        ci = est.estimate_interval(*args, n_bootstrap=150, seed=2)
        got = report.get(est.estimator_name)
        assert (got.value, got.ci_low, got.ci_high) == (ci["mean"], ci["lower"], ci["upper"])


def test_shared_input_checks_apply_to_every_estimator():
    reward, action, pscore, target, q = _bandit(10)
    for est in (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DoublyRobust()):
        with pytest.raises(OPEError, match="same length"):
            est.estimate_policy_value(reward[:-1], action, pscore, target, q)
        with pytest.raises(OPEError, match="out of range"):
            est.estimate_policy_value(reward, np.full(10, 5), pscore, target, q)
        with pytest.raises(OPEError, match="NaN"):
            est.estimate_interval(np.full(10, np.nan), action, pscore, target, q)
