"""The low-overlap estimators (clipped IPS/DR, Switch-DR, DRos, SNDR, DM) against obp, and the
shared input check: bad input always raises with a clear message."""
import numpy as np
import pytest

from policy_learning.ope.per_decision import (ESTIMATORS, DirectMethod, DoublyRobust, DoublyRobustWithShrinkage,
                                              InverseProbabilityWeighting, OPEError,
                                              SelfNormalizedDoublyRobust,
                                              SelfNormalizedInverseProbabilityWeighting, SwitchDoublyRobust, evaluate)
from policy_learning.ope.sequential import evaluate_sequential


def obp_arrays():
    """Shared arrays: 1,000 decisions over 8 prompts, a softmax logging policy mixed with 30%
    uniform exploration, a sharper softmax target, a reward model and Bernoulli rewards."""
    rng = np.random.default_rng(20261125)
    n, K = 1000, 8
    logit = rng.normal(size=(n, K))
    pi_b = 0.7 * np.exp(logit) / np.exp(logit).sum(1, keepdims=True) + 0.3 / K
    action = np.array([rng.choice(K, p=p) for p in pi_b])
    pscore = pi_b[np.arange(n), action]
    lt = rng.normal(size=(n, K)) * 2
    pi_e = np.exp(lt) / np.exp(lt).sum(1, keepdims=True)
    q = rng.uniform(0.05, 0.95, size=(n, K))
    reward = (rng.random(n) < q[np.arange(n), action] * 0.8 + 0.1).astype(float)
    return reward, action, pscore, pi_e, q


# Computed with obp's own definitions (obp/ope/estimators.py of st-tech/zr-obp, transcribed with
# its (n, K, 1) action_dist and np.average over pi_e) on obp_arrays(); the largest weight is 17.8.
OBP = {
    "IPS": 0.5363902164392996,
    "SNIPS": 0.5195835565343775,
    "DM": 0.501062282750667,
    "DR": 0.511210837415467,
    "IPS-clip2.0": 0.3293045122740962,
    "DR-clip2.0": 0.5106407560065542,
    "SwitchDR2.0": 0.5165349542259362,
    "DRos2.0": 0.506756635949918,
    "IPS-clip5.0": 0.45808381598400216,
    "DR-clip5.0": 0.5088207814148148,
    "SwitchDR5.0": 0.5016991325948067,
    "DRos5.0": 0.5085741895694645,
    "SNDR": 0.5108928537879689,
    "bias_IPS-clip2.0": 0.20708570416520342,
    "bias_DR-clip2.0": 0.0005700814089126567,
}


@pytest.mark.parametrize("name, estimator", [
    ("IPS", InverseProbabilityWeighting()), ("SNIPS", SelfNormalizedInverseProbabilityWeighting()),
    ("DM", DirectMethod()), ("DR", DoublyRobust()), ("SNDR", SelfNormalizedDoublyRobust()),
    ("IPS-clip2.0", InverseProbabilityWeighting(lambda_=2.0)), ("IPS-clip5.0", InverseProbabilityWeighting(lambda_=5.0)),
    ("DR-clip2.0", DoublyRobust(lambda_=2.0)), ("DR-clip5.0", DoublyRobust(lambda_=5.0)),
    ("SwitchDR2.0", SwitchDoublyRobust(lambda_=2.0)), ("SwitchDR5.0", SwitchDoublyRobust(lambda_=5.0)),
    ("DRos2.0", DoublyRobustWithShrinkage(lambda_=2.0)), ("DRos5.0", DoublyRobustWithShrinkage(lambda_=5.0)),
])
def test_agrees_with_obp(name, estimator):
    reward, action, pscore, pi_e, q = obp_arrays()
    got = estimator.estimate_policy_value(reward, action, pscore, pi_e, None if name.startswith(("IPS", "SNIPS")) else q)
    assert abs(got - OBP[name]) < 1e-9
    rounds = estimator.estimate_round_rewards(reward, action, pscore, pi_e, q)
    assert rounds.shape == (1000,) and abs(rounds.mean() - got) < 1e-12


def test_bias_of_modified_weights_is_obps_and_widens_the_interval():
    reward, action, pscore, pi_e, q = obp_arrays()
    clipped = InverseProbabilityWeighting(lambda_=2.0)
    assert abs(clipped.estimate_bias(reward, action, pscore, pi_e) - OBP["bias_IPS-clip2.0"]) < 1e-9
    assert abs(DoublyRobust(lambda_=2.0).estimate_bias(reward, action, pscore, pi_e, q) - OBP["bias_DR-clip2.0"]) < 1e-9
    assert InverseProbabilityWeighting().estimate_bias(reward, action, pscore, pi_e) == 0.0
    ci = clipped.estimate_interval(reward, action, pscore, pi_e, n_bootstrap=200, seed=0)
    # clipping at 2 cuts the estimate by ~0.2: the widened interval still reaches the unclipped value
    assert ci["bias"] > 0.15 and ci["lower"] < ci["mean"] < OBP["IPS"] < ci["upper"]


def test_extreme_thresholds_reduce_to_dr_and_dm():
    reward, action, pscore, pi_e, q = obp_arrays()
    for est in (SwitchDoublyRobust(lambda_=1e9), DoublyRobustWithShrinkage(lambda_=np.inf), DoublyRobust(lambda_=1e9)):
        assert abs(est.estimate_policy_value(reward, action, pscore, pi_e, q) - OBP["DR"]) < 1e-9
    for est in (SwitchDoublyRobust(lambda_=0.0), DoublyRobustWithShrinkage(lambda_=0.0)):
        assert abs(est.estimate_policy_value(reward, action, pscore, pi_e, q) - OBP["DM"]) < 1e-9
    with pytest.raises(OPEError, match="lambda_"):
        InverseProbabilityWeighting(lambda_=0.0)
    with pytest.raises(OPEError, match="lambda_"):
        DoublyRobustWithShrinkage(lambda_=-1.0)


def test_low_overlap_estimators_beat_plain_ips_on_a_hard_bandit():
    """Target far from logging: clipped/switch/shrunk DR with a decent model have a far smaller
    error spread than IPS over 200 replications, and their bias-widened intervals cover."""
    K, n = 8, 2000
    means = np.linspace(0.1, 0.8, K)
    logging = np.r_[0.72, np.full(K - 1, 0.04)]
    target = np.r_[np.zeros(K - 1), 1.0]  # puts all mass on a prompt logged 4% of the time
    truth = means[-1]
    errs = {name: [] for name in ("IPS", "SwitchDR", "DRos", "DR-clip")}
    covered = {name: 0 for name in errs}
    for rep in range(200):
        rng = np.random.default_rng(rep)
        action = rng.choice(K, size=n, p=logging)
        reward = (rng.random(n) < means[action]).astype(float)
        q = np.tile(means + rng.normal(0, 0.03, K), (n, 1))
        args = (reward, action, logging[action], np.tile(target, (n, 1)), q)
        for est in (InverseProbabilityWeighting(), SwitchDoublyRobust(lambda_=10.0),
                    DoublyRobustWithShrinkage(lambda_=10.0), DoublyRobust(lambda_=10.0, estimator_name="DR-clip")):
            v = est.estimate_policy_value(*args)
            errs[est.estimator_name].append(v - truth)
            if rep < 40:
                ci = est.estimate_interval(*args, n_bootstrap=100, seed=rep)
                covered[est.estimator_name] += ci["lower"] <= truth <= ci["upper"]
    sd = {k: np.std(v) for k, v in errs.items()}
    assert abs(np.mean(errs["IPS"])) < 0.03  # unbiased, but noisy
    for name in ("SwitchDR", "DRos", "DR-clip"):
        assert sd[name] < 0.5 * sd["IPS"], sd
        assert covered[name] >= 34, covered  # >= 85% of 40


# -- bad input -----------------------------------------------------------------------------
def _valid(n=20, K=3, seed=0):
    rng = np.random.default_rng(seed)
    action = rng.integers(0, K, n)
    return (rng.integers(0, 2, n).astype(float), action, np.full(n, 1 / K), np.full((n, K), 1 / K),
            rng.uniform(0, 1, (n, K)))


ALL = [e for e in ESTIMATORS]


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: e.estimator_name)
def test_column_shaped_reward_or_pscore_raises(estimator):
    reward, action, pscore, dist, q = _valid()
    with pytest.raises(OPEError, match=r"reward must be 1-dimensional.*\(20, 1\)"):
        estimator.estimate_policy_value(reward[:, None], action, pscore, dist, q)
    with pytest.raises(OPEError, match=r"pscore must be 1-dimensional.*\(20, 1\)"):
        estimator.estimate_policy_value(reward, action, pscore[:, None], dist, q)
    with pytest.raises(OPEError, match=r"action must be 1-dimensional"):
        estimator.estimate_interval(reward, action[:, None], pscore, dist, q)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: e.estimator_name)
def test_fractional_float_actions_raise_and_whole_floats_are_accepted(estimator):
    reward, action, pscore, dist, q = _valid()
    bad = action.astype(float)
    bad[3] = 1.5
    with pytest.raises(OPEError, match="not whole numbers"):
        estimator.estimate_policy_value(reward, bad, pscore, dist, q)
    assert estimator.estimate_policy_value(reward, action.astype(float), pscore, dist, q) == \
        estimator.estimate_policy_value(reward, action, pscore, dist, q)
    with pytest.raises(OPEError, match="integer prompt indices"):
        estimator.estimate_policy_value(reward, action.astype(str), pscore, dist, q)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: e.estimator_name)
def test_action_dist_rows_must_be_distributions(estimator):
    reward, action, pscore, dist, q = _valid()
    off = dist.copy()
    off[5] *= 0.5
    with pytest.raises(OPEError, match=r"1 rows of action_dist do not sum to 1 \(row 5 sums to 0.5\)"):
        estimator.estimate_policy_value(reward, action, pscore, off, q)
    neg = dist.copy()
    neg[2] = [1.5, -0.5, 0.0]
    with pytest.raises(OPEError, match="negative"):
        estimator.estimate_policy_value(reward, action, pscore, neg, q)
    with pytest.raises(OPEError, match="action_dist must be"):
        estimator.estimate_policy_value(reward, action, pscore, dist[:, :, None], q)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_estimated_rewards_raise(bad_value):
    reward, action, pscore, dist, q = _valid()
    q[4, 1] = bad_value
    for est in ALL:
        if est.requires_estimated_rewards:
            with pytest.raises(OPEError, match="estimated_rewards are NaN or infinite"):
                est.estimate_policy_value(reward, action, pscore, dist, q)
    with pytest.raises(OPEError, match="estimated_rewards are NaN or infinite"):
        evaluate(reward, action, pscore, dist, q)
    with pytest.raises(OPEError, match="NaN or infinite"):
        evaluate_sequential(np.arange(20), np.zeros(20), reward, action, pscore, dist, q)


def test_non_finite_rewards_and_probabilities_raise():
    reward, action, pscore, dist, q = _valid()
    r = reward.copy()
    r[0] = np.inf
    with pytest.raises(OPEError, match="rewards are NaN or infinite"):
        evaluate(r, action, pscore, dist, q)
    d = dist.copy()
    d[0, 0] = np.nan
    with pytest.raises(OPEError, match="NaN or inf in the target probabilities"):
        evaluate(reward, action, pscore, d, q)
    with pytest.raises(OPEError, match="estimated_rewards must have the shape"):
        evaluate(reward, action, pscore, dist, q[:, :2])
    with pytest.raises(OPEError, match="needs estimated_rewards"):
        SwitchDoublyRobust(lambda_=2.0).estimate_policy_value(reward, action, pscore, dist)


def test_evaluate_reports_overlap_diagnostics_and_clips_to_bounds():
    reward, action, pscore, pi_e, q = obp_arrays()
    logging_dist = np.ones_like(pi_e) / pi_e.shape[1]
    report = evaluate(reward, action, pscore, pi_e, q, logging_action_dist=logging_dist, n_bootstrap=100,
                      bounds=(0.0, 0.52))
    assert {e.estimator for e in report.estimates} == {e.estimator_name for e in ESTIMATORS}
    assert all(0.0 <= e.ci_low <= e.value <= e.ci_high <= 0.52 for e in report.estimates)
    assert report.get("IPS").value == 0.52  # 0.536 unclipped
    d = report.diagnostics
    w = pi_e[np.arange(1000), action] / pscore
    assert d["ess"] == pytest.approx(w.sum() ** 2 / (w ** 2).sum())
    assert d["weights"]["max"] == pytest.approx(w.max()) and d["weights"]["q50"] == pytest.approx(np.median(w))
    assert d["unsupported_mass"] == 0.0 and set(d["per_prompt"]) >= {"ask_open", "offer_station"}
    assert sum(p["logged"] for p in d["per_prompt"].values()) == 1000
    # a target on a prompt the logs never take: unsupported mass, warning, unreliable
    never = np.zeros_like(pi_e)
    never[:, 7] = 1.0
    no_support = logging_dist.copy()
    no_support[:, 7] = 0.0
    rep = evaluate(reward, action, pscore, never, q, logging_action_dist=no_support, n_bootstrap=20)
    assert rep.unsupported_mass == 1.0 and not rep.reliable
    assert any(w.startswith("support:") for w in rep.warnings)
    assert rep.diagnostics["per_prompt"]["offer_station"]["supported_share"] == 0.0
