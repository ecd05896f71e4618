"""Off-policy evaluation of whole conversations, on plain arrays.

A prompt changes the states that follow it, so the per-decision estimators in
``policy_learning.ope.per_decision`` value a target policy on the *logging* policy's state
distribution. The figures the experiment reports (success rate, turns) are properties of
whole conversations run by the target. These estimators value them from logs.

Inputs, for n logged decisions in E conversations over K prompts:

- ``episode`` (n,): conversation ids; ``step`` (n,): order within the conversation;
- ``reward`` (n,): per-decision reward, e.g. 1 on the decision the listener accepted;
- ``action`` (n,), ``pscore`` (n,), ``action_dist`` (n, K): as in ``policy_learning.ope.per_decision``;
- ``q_hat`` (n, K): an estimate of the target's Q function (fitted Q evaluation,
  ``policy_learning.fitted_q.FittedQEvaluation``), for doubly robust only.

With rho_t = pi(a_t|s_t) / mu(a_t|s_t) and rho_{0:t} their running product in a conversation:

- per-decision IS   V = mean_e sum_t gamma^t rho_{0:t} r_t
- per-decision WIS  the same with rho_{0:t} divided by its mean over conversations at step t
  (a conversation that has ended keeps its last rho_{0:t})
- sequential DR     V = mean_e sum_t gamma^t [ rho_{0:t} (r_t - Q(s_t, a_t)) + rho_{0:t-1} V(s_t) ],
  V(s) = sum_a pi(a|s) Q(s, a)  (Jiang & Li 2016). Unbiased whenever the propensities
  are right, whatever the Q estimate; a good Q estimate shrinks its variance.
- weighted DR       the same with rho_{0:t} and rho_{0:t-1} divided by their means over conversations
  at each step (Thomas & Brunskill 2016): slightly biased, consistent, and far less variable
  when a few conversations carry most of the weight.

Each is a dataclass in obp's shape (``estimate_round_rewards``, ``estimate_policy_value``,
``estimate_interval``). ``evaluate_sequential`` runs them all with conversation-level bootstrap CIs, the effective number of
conversations of the final weights, and overlap warnings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from policy_learning.ope.per_decision import Estimate, OPEError, _check, bootstrap_rows


@dataclass
class Episodes:
    """The logged decisions laid out as (E, T) matrices, padded after each conversation's end."""

    reward: np.ndarray  # (E, T), 0 after the end
    rho: np.ndarray  # (E, T) running product of importance ratios, last value carried after the end
    rho_prev: np.ndarray  # (E, T) running product up to the step before
    alive: np.ndarray  # (E, T) bool
    q_logged: Optional[np.ndarray]  # (E, T) Q(s_t, a_t)
    v: Optional[np.ndarray]  # (E, T) V(s_t)
    discount: np.ndarray  # (T,)

    @property
    def n_episodes(self) -> int:
        return self.reward.shape[0]


def layout(episode, step, reward, action, pscore, action_dist, q_hat=None, gamma: float = 1.0) -> Episodes:
    reward, action, pscore, action_dist, q_hat = _check(reward, action, pscore, action_dist, q_hat)
    episode = np.asarray(episode)
    step = np.asarray(step)
    if len(episode) != len(reward) or len(step) != len(reward):
        raise OPEError("episode and step must have one entry per logged decision")
    if not 0.0 < gamma <= 1.0:
        raise OPEError(f"gamma must be in (0, 1], got {gamma}")
    order = np.lexsort((step, episode))
    ep_sorted = episode[order]
    if np.any((ep_sorted[1:] == ep_sorted[:-1]) & (step[order][1:] == step[order][:-1])):
        raise OPEError("two logged decisions share a conversation and step")
    _, ep_index, counts = np.unique(ep_sorted, return_inverse=True, return_counts=True)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.arange(len(order)) - starts[ep_index]
    E, T = len(counts), int(counts.max())
    idx = np.arange(len(reward))[order]
    ratio = action_dist[idx, action[idx]] / pscore[idx]

    def matrix(values, fill):
        m = np.full((E, T), fill, dtype=float)
        m[ep_index, pos] = values
        return m

    alive = matrix(np.ones(len(idx)), 0.0).astype(bool)
    r = matrix(reward[idx], 0.0)
    ratios = matrix(ratio, 1.0)  # 1 after the end, so the running product is carried
    rho = np.cumprod(ratios, axis=1)
    rho_prev = np.hstack([np.ones((E, 1)), rho[:, :-1]])
    q_logged = v = None
    if q_hat is not None:
        q_logged = matrix(q_hat[idx, action[idx]], 0.0)
        v = matrix((action_dist[idx] * q_hat[idx]).sum(axis=1), 0.0)
    return Episodes(r, rho, rho_prev, alive, q_logged, v, gamma ** np.arange(T))


def _rows(rows):
    return slice(None) if rows is None else rows


def _self_normalised(rho: np.ndarray) -> np.ndarray:
    """Weights divided by their mean over conversations at each step."""
    norm = rho.mean(axis=0)
    if np.any(norm == 0):
        raise OPEError("overlap: at some step no logged conversation follows the target policy")
    return rho / norm


def bootstrap_counts(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, n): how often each conversation is drawn in each resample of
    ``bootstrap_rows`` (the same draws)."""
    rows = bootstrap_rows(n, n_bootstrap, seed)
    flat = (rows + n * np.arange(len(rows))[:, None]).ravel()
    return np.bincount(flat, minlength=n * len(rows)).reshape(len(rows), n).astype(float)


def _ratio_sum(counts: np.ndarray, num: np.ndarray, den: Optional[np.ndarray], discount: np.ndarray) -> np.ndarray:
    """sum_t discount_t (counts @ num)_t / (counts @ den)_t per resample; den None: / E."""
    top = counts @ num
    if den is None:
        return top @ discount / num.shape[0]
    bottom = counts @ den
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (top / bottom) @ discount
    out[(bottom == 0).any(axis=1)] = np.nan
    return out


def _dr_rounds(ep: Episodes, rows, w: np.ndarray, w_prev: np.ndarray) -> np.ndarray:
    if ep.q_logged is None:
        raise OPEError("doubly robust estimates need q_hat from a fitted Q evaluation")
    terms = w * (ep.reward[rows] - ep.q_logged[rows]) + w_prev * ep.v[rows]
    return (np.where(ep.alive[rows], terms, 0.0) * ep.discount).sum(axis=1)


@dataclass
class BaseSequentialEstimator:
    """obp's shape for whole conversations: arrays in (see the module docstring), numbers out.

    - ``estimate_round_rewards``: one value per conversation whose mean is the estimate;
    - ``estimate_policy_value``: the estimate;
    - ``estimate_interval``: a conversation-level bootstrap (1 - alpha) interval,
      ``{"mean", "lower", "upper"}``; self-normalised estimators re-normalise in every sample.
    The inputs are checked and laid out once (``layout``); ``rows`` selects conversations.
    """
    estimator_name: str = "base"
    requires_q = False
    self_normalised = False  # weights divided by their mean over conversations at each step

    def _weights(self, rho: np.ndarray) -> np.ndarray:
        return _self_normalised(rho) if self.self_normalised else rho

    def rounds(self, ep: Episodes, rows=None) -> np.ndarray:
        raise NotImplementedError

    def value(self, ep: Episodes, rows=None) -> float:
        return float(self.rounds(ep, rows).mean())

    def samples(self, ep: Episodes, n_bootstrap: int = 300, seed: int = 0) -> np.ndarray:
        """The estimate on conversation-level bootstrap resamples (those where it is defined)."""
        values = self.resampled(ep, bootstrap_counts(ep.n_episodes, n_bootstrap, seed))
        values = values[np.isfinite(values)]  # NaN: no conversation follows the target at some step
        if not len(values):
            raise OPEError(f"{self.estimator_name}: undefined on every bootstrap resample")
        return values

    def resampled(self, ep: Episodes, counts: np.ndarray) -> np.ndarray:
        """The estimate on each resample given as (B, E) counts of every conversation, all at
        once: every estimator here is a sum over steps of ratios of count-weighted sums over
        conversations. NaN where a self-normalised weight is undefined."""
        raise NotImplementedError

    def interval(self, ep: Episodes, alpha: float = 0.05, n_bootstrap: int = 300, seed: int = 0) -> Dict[str, float]:
        value = self.value(ep)
        lo, hi = np.quantile(self.samples(ep, n_bootstrap, seed), [alpha / 2, 1 - alpha / 2])
        return {"mean": value, "lower": float(lo), "upper": float(hi)}

    def _layout(self, episode, step, reward, action, pscore, action_dist, q_hat, gamma) -> Episodes:
        if self.requires_q and q_hat is None:
            raise OPEError(f"{self.estimator_name}: doubly robust estimates need q_hat from a fitted Q evaluation")
        return layout(episode, step, reward, action, pscore, action_dist, q_hat, gamma)

    def estimate_round_rewards(self, episode, step, reward, action, pscore, action_dist, q_hat=None,
                               gamma: float = 1.0) -> np.ndarray:
        return self.rounds(self._layout(episode, step, reward, action, pscore, action_dist, q_hat, gamma))

    def estimate_policy_value(self, episode, step, reward, action, pscore, action_dist, q_hat=None,
                              gamma: float = 1.0) -> float:
        return self.value(self._layout(episode, step, reward, action, pscore, action_dist, q_hat, gamma))

    def estimate_interval(self, episode, step, reward, action, pscore, action_dist, q_hat=None, gamma: float = 1.0,
                          alpha: float = 0.05, n_bootstrap: int = 300, seed: int = 0) -> Dict[str, float]:
        ep = self._layout(episode, step, reward, action, pscore, action_dist, q_hat, gamma)
        return self.interval(ep, alpha, n_bootstrap, seed)


@dataclass
class PerDecisionIS(BaseSequentialEstimator):
    estimator_name: str = "PDIS"

    def rounds(self, ep: Episodes, rows=None) -> np.ndarray:
        rows = _rows(rows)
        return ((self._weights(ep.rho[rows]) * ep.reward[rows]) * ep.discount).sum(axis=1)

    def resampled(self, ep: Episodes, counts: np.ndarray) -> np.ndarray:
        return _ratio_sum(counts, ep.rho * ep.reward, ep.rho if self.self_normalised else None, ep.discount)


@dataclass
class PerDecisionWIS(PerDecisionIS):
    estimator_name: str = "PDWIS"
    self_normalised = True


@dataclass
class SequentialDoublyRobust(BaseSequentialEstimator):
    estimator_name: str = "SeqDR"
    requires_q = True

    def rounds(self, ep: Episodes, rows=None) -> np.ndarray:
        rows = _rows(rows)
        return _dr_rounds(ep, rows, self._weights(ep.rho[rows]), self._weights(ep.rho_prev[rows]))

    def resampled(self, ep: Episodes, counts: np.ndarray) -> np.ndarray:
        if ep.q_logged is None:
            raise OPEError("doubly robust estimates need q_hat from a fitted Q evaluation")
        sn = self.self_normalised
        corrected = np.where(ep.alive, ep.rho * (ep.reward - ep.q_logged), 0.0)
        baseline = np.where(ep.alive, ep.rho_prev * ep.v, 0.0)
        return (_ratio_sum(counts, corrected, ep.rho if sn else None, ep.discount)
                + _ratio_sum(counts, baseline, ep.rho_prev if sn else None, ep.discount))


@dataclass
class WeightedSequentialDoublyRobust(SequentialDoublyRobust):
    estimator_name: str = "SeqWDR"
    self_normalised = True


SEQUENTIAL_ESTIMATORS = (PerDecisionIS(), PerDecisionWIS(), SequentialDoublyRobust(), WeightedSequentialDoublyRobust())


def per_decision_is(ep: Episodes, rows=None) -> float:
    return PerDecisionIS().value(ep, rows)


def per_decision_wis(ep: Episodes, rows=None) -> float:
    return PerDecisionWIS().value(ep, rows)


def sequential_dr(ep: Episodes, rows=None) -> float:
    return SequentialDoublyRobust().value(ep, rows)


def weighted_sequential_dr(ep: Episodes, rows=None) -> float:
    return WeightedSequentialDoublyRobust().value(ep, rows)


@dataclass
class SequentialReport:
    estimates: List[Estimate]
    n_episodes: int
    effective_episodes: float
    max_weight: float
    warnings: List[str]
    diagnostics: Optional[dict] = None
    lower_bounds: Dict[str, dict] = field(default_factory=dict)
    bootstrap_intervals: Dict[str, tuple] = field(default_factory=dict)  # before widening (see evaluate_sequential)
    guaranteed_interval: Optional[dict] = None
    # per-conversation values (their mean is the estimate) of the estimators that have them, in
    # the logs' conversation order: two policies evaluated on the same logs can be compared
    # pairwise (``policy_learning.gate.paired_improvement_bound``)
    episode_values: Dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, name: str) -> Estimate:
        return next(e for e in self.estimates if e.estimator == name)

    @property
    def reliable(self) -> bool:
        return bool(self.diagnostics["reliable"]) if self.diagnostics else not self.warnings

    def as_dict(self) -> dict:
        return {"estimates": [e.as_dict() for e in self.estimates], "n_episodes": self.n_episodes,
                "effective_episodes": self.effective_episodes, "max_weight": self.max_weight,
                "warnings": self.warnings, "reliable": self.reliable, "lower_bounds": self.lower_bounds,
                "bootstrap_intervals": self.bootstrap_intervals, "guaranteed_interval": self.guaranteed_interval,
                "diagnostics": self.diagnostics}


def evaluate_sequential(episode, step, reward, action, pscore, action_dist, q_hat=None, gamma: float = 1.0,
                        n_bootstrap: int = 300, seed: int = 0, alpha: float = 0.05, bounds=None,
                        logging_action_dist=None) -> SequentialReport:
    """Every sequential estimator with conversation-level bootstrap (1 - alpha) CIs (estimates
    and intervals clipped to ``bounds``, the value's range, when given), the overlap diagnostics of the conversations'
    final weights (``policy_learning.ope.diagnostics``) and the one-sided (1 - alpha) lower
    bounds of ``policy_learning.ope.bounds``: ``hcope`` on the importance-weighted returns
    (needs returns in ``bounds``), ``bootstrap`` from the SeqDR bootstrap.

    ``q_hat`` may be a list of (n, K) Q estimates, one per cross-fitting split (repeated
    cross-fitting): a doubly robust estimate is then the mean over splits, and its bootstrap
    distribution pools every split's resamples, so the spread that comes from which model was
    fitted (and on which folds) is in the interval, not only the spread of the conversations.

    When the overlap diagnostics call the estimate unreliable (few conversations follow the
    target), a resampling interval cannot be trusted: the rare conversations that carry the
    weight are missing from most samples, and a doubly robust estimate is then mostly its
    model's, whose bias no resampling shows (``benchmarks/ope_coverage.py`` measured such
    intervals missing the truth). Every interval is then widened to contain the two-sided
    guaranteed interval (``bounds.hcope_interval``, needs ``bounds``); the bootstrap ones stay
    in ``bootstrap_intervals``."""
    from policy_learning.ope.bounds import bootstrap_lower_bound, hcope_interval, hcope_lower_bound
    from policy_learning.ope.diagnostics import overlap_diagnostics

    q_list = list(q_hat) if isinstance(q_hat, (list, tuple)) else [q_hat]
    if not q_list:
        raise OPEError("q_hat is an empty list of Q estimates")
    splits = [layout(episode, step, reward, action, pscore, action_dist, q, gamma) for q in q_list]
    ep = splits[0]
    final = ep.rho[:, -1]
    _, action_c, _, dist_c, _ = _check(reward, action, pscore, action_dist)
    diag = overlap_diagnostics(final, action_c, dist_c, logging_action_dist, unit="conversations")
    ess = diag["ess"]
    warnings = list(diag["warnings"])
    if final.sum() == 0:
        warnings.append("overlap: only the doubly robust estimate (model-based) is informative")
    guaranteed = None
    if bounds is not None and ep.n_episodes >= 10:
        returns = (ep.reward * ep.discount).sum(axis=1)
        if returns.min() >= bounds[0] - 1e-12 and returns.max() <= bounds[1] + 1e-12:
            guaranteed = hcope_interval(final, returns, alpha, seed=seed, value_range=bounds)
    widen = guaranteed is not None and not diag["reliable"]
    estimates, lower, raw, episode_values = [], {}, {}, {}
    for est in SEQUENTIAL_ESTIMATORS:
        if est.requires_q and ep.q_logged is None:
            continue
        use = splits if est.requires_q else splits[:1]
        try:
            samples = np.concatenate([est.samples(e, n_bootstrap, seed) for e in use])
        except OPEError as e:
            warnings.append(f"{est.estimator_name}: {e}")
            continue
        lo, hi = (float(x) for x in np.quantile(samples, [alpha / 2, 1 - alpha / 2]))
        value = float(np.mean([est.value(e) for e in use]))
        if bounds is not None:  # a success rate outside [0, 1] is known to be wrong: project it back
            lo, hi, value = (float(np.clip(x, *bounds)) for x in (lo, hi, value))
        raw[est.estimator_name] = (lo, hi)
        if widen:
            lo, hi = min(lo, guaranteed["lower"]), max(hi, guaranteed["upper"])
        estimates.append(Estimate(est.estimator_name, value, lo, hi))
        if not est.self_normalised:
            episode_values[est.estimator_name] = np.mean([est.rounds(e) for e in use], axis=0)
        if est.estimator_name == "SeqDR":
            lower["bootstrap"] = bootstrap_lower_bound(samples, alpha, bounds if bounds is not None else (-np.inf, np.inf))
    if bounds is not None and ep.n_episodes >= 10:
        returns = (ep.reward * ep.discount).sum(axis=1)
        if returns.min() >= bounds[0] - 1e-12 and returns.max() <= bounds[1] + 1e-12:
            lower["hcope"] = hcope_lower_bound(final * (returns - bounds[0]), alpha,
                                               seed=seed, value_range=bounds)
    if widen:
        warnings.append(f"intervals widened to the guaranteed {1 - alpha:.0%} interval [{guaranteed['lower']:.3f}, "
                        f"{guaranteed['upper']:.3f}]: with this little overlap no resampling interval can be trusted")
    return SequentialReport(estimates, ep.n_episodes, ess, float(final.max()), warnings, diag, lower, raw, guaranteed,
                            episode_values)
