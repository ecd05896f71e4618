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

``evaluate_sequential`` adds conversation-level bootstrap CIs, the effective number of
conversations of the final weights, and overlap warnings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from policy_learning.ope.per_decision import Estimate, OPEError, _check


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


def per_decision_is(ep: Episodes, rows=None) -> float:
    rows = slice(None) if rows is None else rows
    return float(((ep.rho[rows] * ep.reward[rows]) * ep.discount).sum(axis=1).mean())


def _self_normalised(rho: np.ndarray) -> np.ndarray:
    """Weights divided by their mean over conversations at each step."""
    norm = rho.mean(axis=0)
    if np.any(norm == 0):
        raise OPEError("overlap: at some step no logged conversation follows the target policy")
    return rho / norm


def per_decision_wis(ep: Episodes, rows=None) -> float:
    rows = slice(None) if rows is None else rows
    return float(((_self_normalised(ep.rho[rows]) * ep.reward[rows]) * ep.discount).sum(axis=1).mean())


def _dr(ep: Episodes, rows, w: np.ndarray, w_prev: np.ndarray) -> float:
    if ep.q_logged is None:
        raise OPEError("doubly robust estimates need q_hat from a fitted Q evaluation")
    terms = w * (ep.reward[rows] - ep.q_logged[rows]) + w_prev * ep.v[rows]
    return float((np.where(ep.alive[rows], terms, 0.0) * ep.discount).sum(axis=1).mean())


def sequential_dr(ep: Episodes, rows=None) -> float:
    rows = slice(None) if rows is None else rows
    return _dr(ep, rows, ep.rho[rows], ep.rho_prev[rows])


def weighted_sequential_dr(ep: Episodes, rows=None) -> float:
    rows = slice(None) if rows is None else rows
    return _dr(ep, rows, _self_normalised(ep.rho[rows]), _self_normalised(ep.rho_prev[rows]))


SEQUENTIAL_ESTIMATORS = (("PDIS", per_decision_is), ("PDWIS", per_decision_wis), ("SeqDR", sequential_dr),
                         ("SeqWDR", weighted_sequential_dr))


@dataclass
class SequentialReport:
    estimates: List[Estimate]
    n_episodes: int
    effective_episodes: float
    max_weight: float
    warnings: List[str]

    def get(self, name: str) -> Estimate:
        return next(e for e in self.estimates if e.estimator == name)

    def as_dict(self) -> dict:
        return {"estimates": [e.as_dict() for e in self.estimates], "n_episodes": self.n_episodes,
                "effective_episodes": self.effective_episodes, "max_weight": self.max_weight,
                "warnings": self.warnings}


def evaluate_sequential(episode, step, reward, action, pscore, action_dist, q_hat=None, gamma: float = 1.0,
                        n_bootstrap: int = 300, seed: int = 0, alpha: float = 0.05) -> SequentialReport:
    """Every sequential estimator with conversation-level bootstrap (1 - alpha) CIs."""
    ep = layout(episode, step, reward, action, pscore, action_dist, q_hat, gamma)
    final = ep.rho[:, -1]
    ess = float(final.sum() ** 2 / max((final ** 2).sum(), 1e-12))
    warnings = []
    if final.sum() == 0:
        warnings.append("overlap: no logged conversation follows the target policy to its end; "
                        "only the doubly robust estimate (model-based) is informative")
    elif ess < 0.01 * ep.n_episodes:
        warnings.append(f"overlap: {ess:.0f} effective conversations of {ep.n_episodes} (under 1%); "
                        "importance-weighted estimates are high-variance")
    rng = np.random.default_rng(seed)
    boots = rng.integers(0, ep.n_episodes, size=(n_bootstrap, ep.n_episodes))
    estimates = []
    for name, fn in SEQUENTIAL_ESTIMATORS:
        if name in ("SeqDR", "SeqWDR") and ep.q_logged is None:
            continue
        try:
            value = fn(ep)
        except OPEError as e:
            warnings.append(f"{name}: {e}")
            continue
        samples = []
        for b in boots:
            try:
                samples.append(fn(ep, b))
            except OPEError:
                continue
        lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
        estimates.append(Estimate(name, value, float(lo), float(hi)))
    return SequentialReport(estimates, ep.n_episodes, ess, float(final.max()), warnings)
