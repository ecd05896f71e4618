"""Sequential (whole-conversation) off-policy estimators against closed-form values."""
import numpy as np
import pytest

from policy_learning.ope.per_decision import OPEError
from policy_learning.ope.sequential import (evaluate_sequential, layout, per_decision_is, sequential_dr,
                                           weighted_sequential_dr)

# A two-step problem. Step 0: action 0 ends the episode with reward ~ Bernoulli(0.3);
# action 1 goes on. Step 1: action a gives reward ~ Bernoulli(P1[a]). Logging is uniform.
P_END, P1 = 0.3, np.array([0.2, 0.9])


def simulate(n, rng):
    ep, step, reward, action, pscore = [], [], [], [], []
    for e in range(n):
        a0 = int(rng.integers(2))
        ep.append(e), step.append(0), action.append(a0), pscore.append(0.5)
        if a0 == 0:
            reward.append(float(rng.random() < P_END))
            continue
        reward.append(0.0)
        a1 = int(rng.integers(2))
        ep.append(e), step.append(1), action.append(a1), pscore.append(0.5)
        reward.append(float(rng.random() < P1[a1]))
    return [np.asarray(x) for x in (ep, step, reward, action, pscore)]


def test_hand_computed_two_episodes():
    # episode A: two steps, both follow the target; episode B: deviates at step 0.
    ep, step = np.array(["A", "A", "B"]), np.array([0, 1, 0])
    reward, action, pscore = np.array([0.0, 1.0, 1.0]), np.array([1, 1, 0]), np.array([0.5, 0.5, 0.5])
    target = np.array([[0.0, 1.0]] * 3)
    q = np.array([[0.1, 0.6], [0.2, 0.8], [0.3, 0.7]])
    e = layout(ep, step, reward, action, pscore, target, q)
    assert per_decision_is(e) == pytest.approx((4 * 1.0 + 0.0) / 2)
    # A: V(s0) + 2*(0 - 0.6) + 2*V(s1) + 4*(1 - 0.8) = 0.6 - 1.2 + 1.6 + 0.8 = 1.8 ; B: V(s0) - 0 = 0.7
    assert sequential_dr(e) == pytest.approx((1.8 + 0.7) / 2)
    # weighted DR: weights divided by their mean at each step, rho (2, 0) -> (2, 0), (4, 0) -> (2, 0),
    # rho_prev (1, 1) -> (1, 1), (2, 0) -> (2, 0).
    # A: 2*(0 - 0.6) + 0.6 + 2*(1 - 0.8) + 2*0.8 = 1.4 ; B: 0*(1 - 0.3) + 0.7 = 0.7
    assert weighted_sequential_dr(e) == pytest.approx((1.4 + 0.7) / 2)


@pytest.mark.parametrize("target_row, truth", [([0.0, 1.0], 0.9), ([1.0, 0.0], 0.3), ([0.5, 0.5], 0.5 * 0.3 + 0.5 * 0.55)])
def test_unbiased_with_a_biased_q_model(target_row, truth):
    rng = np.random.default_rng(1)
    ep, step, reward, action, pscore = simulate(60_000, rng)
    target = np.tile(target_row, (len(ep), 1))
    q = np.full((len(ep), 2), 0.5)  # a poor Q model: DR must still be unbiased
    report = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=100, alpha=0.01)
    for est in report.estimates:
        assert est.value == pytest.approx(truth, abs=0.015), est
        assert est.ci_low <= truth <= est.ci_high, est


def test_exact_q_gives_a_tighter_dr_interval_than_is():
    rng = np.random.default_rng(2)
    ep, step, reward, action, pscore = simulate(20_000, rng)
    target = np.tile([0.0, 1.0], (len(ep), 1))
    q = np.where(step[:, None] == 0, np.array([P_END, P1.max()]), P1)  # the true Q of the target
    report = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=100)
    width = {e.estimator: e.ci_high - e.ci_low for e in report.estimates}
    assert width["SeqDR"] < width["PDIS"]
    assert report.get("SeqDR").value == pytest.approx(0.9, abs=0.01)


def test_no_overlap_warns_and_stays_finite():
    ep, step = np.array([0, 0, 1]), np.array([0, 1, 0])
    target = np.array([[1.0, 0.0]] * 3)
    report = evaluate_sequential(ep, step, np.ones(3), np.array([1, 1, 1]), np.full(3, 0.5), target,
                                 np.zeros((3, 2)), n_bootstrap=20)
    assert any("overlap" in w for w in report.warnings)
    assert all(np.isfinite(e.value) for e in report.estimates)
    assert "PDWIS" not in [e.estimator for e in report.estimates]


def test_bad_inputs_raise():
    with pytest.raises(OPEError, match="propensities"):
        evaluate_sequential([0], [0], [1.0], [0], [0.0], np.array([[1.0, 0.0]]))
    with pytest.raises(OPEError, match="share a conversation and step"):
        evaluate_sequential([0, 0], [0, 0], [1.0, 0.0], [0, 0], [0.5, 0.5], np.array([[1.0, 0.0]] * 2))
    with pytest.raises(OPEError, match="no logged"):
        evaluate_sequential([], [], [], [], [], np.zeros((0, 2)))


def test_estimators_have_obps_shape_with_per_conversation_rounds():
    from dataclasses import is_dataclass

    from policy_learning.ope.sequential import SEQUENTIAL_ESTIMATORS

    ep, step = np.array(["A", "A", "B"]), np.array([0, 1, 0])
    args = (ep, step, np.array([0.0, 1.0, 1.0]), np.array([1, 1, 0]), np.array([0.5, 0.5, 0.5]),
            np.array([[0.0, 1.0]] * 3), np.array([[0.1, 0.6], [0.2, 0.8], [0.3, 0.7]]))
    rounds = {e.estimator_name: e.estimate_round_rewards(*args) for e in SEQUENTIAL_ESTIMATORS}
    assert all(is_dataclass(e) for e in SEQUENTIAL_ESTIMATORS)
    # per conversation, as in test_hand_computed_two_episodes
    assert rounds["PDIS"] == pytest.approx([4.0, 0.0])
    assert rounds["SeqDR"] == pytest.approx([1.8, 0.7])
    assert rounds["SeqWDR"] == pytest.approx([1.4, 0.7])
    for e in SEQUENTIAL_ESTIMATORS:
        value = e.estimate_policy_value(*args)
        assert value == pytest.approx(rounds[e.estimator_name].mean())


def test_interval_agrees_with_evaluate_sequential():
    from policy_learning.ope.sequential import SequentialDoublyRobust

    rng = np.random.default_rng(5)
    ep, step, reward, action, pscore = simulate(3000, rng)
    target = np.tile([0.2, 0.8], (len(ep), 1))
    q = np.full((len(ep), 2), 0.5)
    ci = SequentialDoublyRobust().estimate_interval(ep, step, reward, action, pscore, target, q, n_bootstrap=60, seed=3)
    got = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=60, seed=3).get("SeqDR")
    assert (got.value, got.ci_low, got.ci_high) == (ci["mean"], ci["lower"], ci["upper"])
    assert ci["lower"] < ci["mean"] < ci["upper"]
    with pytest.raises(OPEError, match="q_hat"):
        SequentialDoublyRobust().estimate_policy_value(ep, step, reward, action, pscore, target)


def test_intervals_are_clipped_to_the_range_and_bounds_reported():
    rng = np.random.default_rng(7)
    ep, step, reward, action, pscore = simulate(400, rng)
    target = np.tile([0.0, 1.0], (len(ep), 1))
    q = np.full((len(ep), 2), 0.5)
    free = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=100)
    assert free.get("PDIS").ci_high > 1.0  # weights of 4 on a success rate near 0.9: the raw interval leaves [0, 1]
    report = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=100, bounds=(0.0, 1.0))
    for e in report.estimates:
        assert 0.0 <= e.ci_low <= e.value <= e.ci_high <= 1.0
    assert set(report.lower_bounds) == {"hcope", "bootstrap"}
    assert 0.0 <= report.lower_bounds["hcope"]["lower_bound"] <= report.get("SeqDR").value
    assert report.diagnostics["unit"] == "conversations" and report.diagnostics["ess"] == report.effective_episodes


def test_hcope_bound_holds_with_its_confidence():
    """Over 200 replications the one-sided 95% HCOPE bound is above the true value at most ~5% of
    the time (it is conservative: far less), for a target with poor overlap."""
    from policy_learning.ope.bounds import hcope_lower_bound

    misses, truth = 0, 0.5 * P_END + 0.5 * P1.mean()  # the target is uniform at both steps
    for rep in range(200):
        rng = np.random.default_rng(100 + rep)
        ep, step, reward, action, pscore = simulate(1500, rng)
        target = np.tile([0.5, 0.5], (len(ep), 1))
        report = evaluate_sequential(ep, step, reward, action, pscore, target, n_bootstrap=2, seed=rep,
                                     bounds=(0.0, 1.0))
        misses += report.lower_bounds["hcope"]["lower_bound"] > truth
    assert misses <= 10
    # and it is informative: for the logging policy itself (every weight 1) it is within a few
    # points of the truth on plenty of data
    truth = 0.5 * P_END + 0.5 * P1.mean()
    rng = np.random.default_rng(1)
    ep, step, reward, action, pscore = simulate(40_000, rng)
    ep_ids = np.unique(ep)
    rho = np.ones(len(ep_ids))
    success = np.bincount(np.searchsorted(ep_ids, ep), weights=reward)
    lb = hcope_lower_bound(rho * success, 0.05, seed=0)
    assert truth - 0.03 < lb["lower_bound"] < truth
    with pytest.raises(OPEError, match="at least 10"):
        hcope_lower_bound(np.ones(3))


def test_count_matrix_bootstrap_equals_recomputing_on_each_resample():
    """``samples`` computes every resample at once from (B, E) counts; it must give what
    recomputing the estimator on the resampled conversations gives, resamples where a
    self-normalised weight is undefined dropped the same way."""
    from policy_learning.ope.per_decision import bootstrap_rows
    from policy_learning.ope.sequential import SEQUENTIAL_ESTIMATORS, bootstrap_counts

    rng = np.random.default_rng(11)
    ep, step, reward, action, pscore = simulate(5, rng)
    target = np.tile([0.0, 1.0], (len(ep), 1))  # few episodes follow it: some resamples lose step 1
    q = rng.random((len(ep), 2))
    lay = layout(ep, step, reward, action, pscore, target, q)
    counts = bootstrap_counts(lay.n_episodes, 200, 4)
    assert counts.shape == (200, lay.n_episodes) and (counts.sum(axis=1) == lay.n_episodes).all()
    dropped = 0
    for est in SEQUENTIAL_ESTIMATORS:
        expected = []
        for rows in bootstrap_rows(lay.n_episodes, 200, 4):
            try:
                expected.append(est.value(lay, rows))
            except OPEError:
                dropped += 1
        assert est.samples(lay, 200, 4) == pytest.approx(expected, abs=1e-12)
    assert dropped > 0  # the undefined case was exercised


def test_two_sided_guaranteed_interval_covers_with_its_confidence():
    from policy_learning.ope.bounds import hcope_interval

    p = np.array([0.2, 0.8])  # the target, at both steps
    truth, misses, widths = p[0] * P_END + p[1] * (p @ P1), 0, []
    for rep in range(150):
        rng = np.random.default_rng(500 + rep)
        ep, step, reward, action, pscore = simulate(1500, rng)
        lay = layout(ep, step, reward, action, pscore, np.tile(p, (len(ep), 1)))
        ci = hcope_interval(lay.rho[:, -1], lay.reward.sum(axis=1), 0.05, seed=rep)
        misses += not ci["lower"] <= truth <= ci["upper"]
        widths.append(ci["upper"] - ci["lower"])
    assert misses <= 7  # 95% two-sided, conservative
    assert np.median(widths) < 0.5  # and informative with fair overlap
    with pytest.raises(OPEError, match="returns must lie"):
        hcope_interval(np.ones(20), np.full(20, 2.0))


def test_intervals_widen_to_the_guaranteed_one_only_when_overlap_is_poor():
    rng = np.random.default_rng(3)
    ep, step, reward, action, pscore = simulate(60, rng)  # few episodes, target far from uniform logging
    target = np.tile([0.0, 1.0], (len(ep), 1))
    q = np.full((len(ep), 2), 0.5)
    poor = evaluate_sequential(ep, step, reward, action, pscore, target, q, n_bootstrap=100, bounds=(0.0, 1.0))
    assert not poor.reliable and poor.guaranteed_interval is not None
    g = poor.guaranteed_interval
    for e in poor.estimates:
        lo, hi = poor.bootstrap_intervals[e.estimator]
        assert e.ci_low == min(lo, g["lower"]) and e.ci_high == max(hi, g["upper"])
    assert any(w.startswith("intervals widened") for w in poor.warnings)
    # the logging policy itself on plenty of data: reliable, the bootstrap intervals are reported as they are
    ep, step, reward, action, pscore = simulate(3000, rng)
    good = evaluate_sequential(ep, step, reward, action, pscore, np.tile([0.5, 0.5], (len(ep), 1)),
                               np.full((len(ep), 2), 0.5), n_bootstrap=100, bounds=(0.0, 1.0))
    assert good.reliable
    for e in good.estimates:
        assert (e.ci_low, e.ci_high) == good.bootstrap_intervals[e.estimator]


def test_repeated_cross_fitting_averages_the_splits_and_pools_their_bootstraps():
    rng = np.random.default_rng(9)
    ep, step, reward, action, pscore = simulate(2000, rng)
    target = np.tile([0.3, 0.7], (len(ep), 1))
    q1, q2 = np.full((len(ep), 2), 0.3), np.full((len(ep), 2), 0.8)
    args = (ep, step, reward, action, pscore, target)
    one, two = (evaluate_sequential(*args, q, n_bootstrap=200, seed=1) for q in (q1, q2))
    both = evaluate_sequential(*args, [q1, q2], n_bootstrap=200, seed=1)
    same = evaluate_sequential(*args, [q1, q1], n_bootstrap=200, seed=1)
    for name in ("SeqDR", "SeqWDR"):
        assert both.get(name).value == pytest.approx((one.get(name).value + two.get(name).value) / 2)
        assert both.get(name).ci_low >= min(one.get(name).ci_low, two.get(name).ci_low) - 1e-12
        assert both.get(name).ci_high <= max(one.get(name).ci_high, two.get(name).ci_high) + 1e-12
        assert (same.get(name).value, same.get(name).ci_low, same.get(name).ci_high) == pytest.approx(
            (one.get(name).value, one.get(name).ci_low, one.get(name).ci_high))
    assert both.get("PDIS").value == one.get("PDIS").value  # no model in it: one split is all there is
    with pytest.raises(OPEError, match="empty list"):
        evaluate_sequential(*args, [], n_bootstrap=10)


def test_paired_improvement_bound_detects_a_better_policy_and_never_the_same_one():
    """The gate's paired bound on V(candidate) - V(current) from the same logs: the same policy
    is never an improvement, a better one is found with a bound below the true gain, and a worse
    one is not promoted."""

    from policy_learning.gate import decide, paired_improvement_bound

    rng = np.random.default_rng(5)
    ep, step, reward, action, pscore = simulate(8_000, rng)
    q = np.full((len(ep), 2), 0.5)

    def report(row):
        return evaluate_sequential(ep, step, reward, action, pscore, np.tile(row, (len(ep), 1)), q,
                                   n_bootstrap=50, bounds=(0.0, 1.0))

    current = report([0.5, 0.5])  # true value 0.425
    same = paired_improvement_bound(report([0.5, 0.5]), current)
    assert same["difference"] == pytest.approx(0.0) and same["lower_bound"] <= 0.0
    assert decide(report([0.5, 0.5]), current)[0] is False
    gain = (0.2 * 0.3 + 0.8 * (0.2 * 0.2 + 0.8 * 0.9)) - 0.425  # 0.668 - 0.425
    better = report([0.2, 0.8])
    lb = paired_improvement_bound(better, current)
    assert 0.0 < lb["lower_bound"] < gain < lb["lower_bound"] + 4 * lb["se"]
    assert decide(better, current)[0] is True
    worse = report([0.8, 0.2])  # 0.308
    assert paired_improvement_bound(worse, current)["lower_bound"] < 0 and decide(worse, current)[0] is False
    # an unreliable candidate is refused whatever its bound; mismatched reports get a clear reason
    unreliable = type(better)(**{**better.__dict__, "diagnostics": {**better.diagnostics, "reliable": False}})
    promote, reason, _ = decide(unreliable, current)
    assert not promote and "unreliable" in reason
    short = type(better)(**{**better.__dict__, "episode_values": {"SeqDR": better.episode_values["SeqDR"][:5]}})
    promote, reason, _ = decide(short, current)
    assert not promote and "same conversations" in reason


def test_the_ladder_promotes_the_largest_certified_step_and_its_error_stays_at_delta():
    """``improve.certify_ladder``: the steps fixed on `select` are certified in ascending order, each
    at DELTA, the first refusal stops the ladder, and the largest step certified is promoted
    (fixed-sequence testing). Seen in a set-up: alpha 0.75 was unreliable (one conversation 50%
    of the weight) and, with one fallback, the round deployed nothing. Under the null (no step
    better), over 4,000 replications, a step is promoted in at most DELTA of them; with the first
    step truly better and the others not, a step that is not better is promoted at most DELTA."""
    from policy_learning.improve import DELTA, certify_ladder

    rng = np.random.default_rng(11)
    ep, step, reward, action, pscore = simulate(600, rng)
    base = evaluate_sequential(ep, step, reward, action, pscore, np.tile([0.5, 0.5], (len(ep), 1)),
                               np.full((len(ep), 2), 0.5), n_bootstrap=10, bounds=(0.0, 1.0))

    def mk(values, reliable=True):
        return type(base)(**{**base.__dict__, "episode_values": {"SeqDR": np.asarray(values, float)},
                             "diagnostics": {**base.diagnostics, "reliable": reliable}})

    n = 300
    current = mk(np.full(n, 0.5))
    calls = []

    def evaluator(reports):
        def evaluate(alpha):
            calls.append(alpha)
            return reports[alpha]
        return evaluate

    better = 0.5 + 0.2 + rng.normal(0, 0.3, n)
    # the bold step unreliable: the largest step below it is promoted, at the whole DELTA
    cert = certify_ladder(evaluator({0.1: mk(better), 0.25: mk(better), 0.75: mk(better, reliable=False)}),
                          current, [0.75, 0.25, 0.1])
    assert cert.promote and cert.alpha == 0.25 and calls == [0.1, 0.25, 0.75]
    assert cert.delta == DELTA and cert.bound["delta"] == pytest.approx(DELTA) and cert.report.reliable
    assert "largest step" in cert.reason and "unreliable" in cert.reason
    assert [s["promoted"] for s in cert.ladder] == [True, True, False]
    # every step certified: the last one; one step alone is the plain gate at DELTA
    calls.clear()
    cert = certify_ladder(evaluator({0.25: mk(better), 0.75: mk(better)}), current, [0.25, 0.75])
    assert cert.promote and cert.alpha == 0.75 and calls == [0.25, 0.75] and "largest" not in cert.reason
    cert = certify_ladder(evaluator({0.5: mk(np.full(n, 0.5))}), current, [0.5])
    assert not cert.promote and cert.alpha == 0.5 and len(cert.ladder) == 1
    # the first step refused: nothing is promoted and no later step is looked at
    calls.clear()
    cert = certify_ladder(evaluator({0.1: mk(np.full(n, 0.5)), 0.5: mk(better)}), current, [0.1, 0.5])
    assert not cert.promote and calls == [0.1] and cert.alpha == 0.1 and "first step" in cert.reason
    with pytest.raises(ValueError, match="at least one step"):
        certify_ladder(evaluator({}), current, [])
    # the error rates
    reps, null_all, null_after_good = 4000, 0, 0
    for _ in range(reps):
        null = {a: mk(0.5 + rng.normal(0, 0.3, n), reliable=bool(rng.random() < 0.8)) for a in (0.1, 0.25, 0.5)}
        null_all += certify_ladder(lambda a: null[a], current, [0.1, 0.25, 0.5]).promote
        good = {0.1: mk(0.5 + 0.2 + rng.normal(0, 0.3, n)), **{a: null[a] for a in (0.25, 0.5)}}
        cert = certify_ladder(lambda a: good[a], current, [0.1, 0.25, 0.5])
        null_after_good += cert.promote and cert.alpha > 0.1
    se = np.sqrt(DELTA * (1 - DELTA) / reps)
    assert null_all / reps <= DELTA + 3 * se
    assert null_after_good / reps <= DELTA + 3 * se
