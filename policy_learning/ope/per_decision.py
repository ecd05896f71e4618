"""Off-policy evaluation of single decisions on plain arrays, in obp's shape: one dataclass per
estimator with ``estimate_round_rewards``, ``estimate_policy_value`` and ``estimate_interval``,
and one input check shared by all (``_check``).

Inputs, for n logged decisions over K prompts:
- ``reward`` (n,): observed prompt-usefulness rewards;
- ``action`` (n,): index of the logged prompt;
- ``pscore`` (n,): the logging policy's probability of that prompt (propensity), in (0, 1];
- ``action_dist`` (n, K): the target policy's probabilities in each logged state;
- ``estimated_rewards`` (n, K): a reward model's predictions (doubly robust only).

Estimators: IPS  V = mean(w r);  SNIPS  V = sum(w r) / sum(w);
DR  V = mean( sum_a pi(a|x) q(x, a) + w (r - q(x, a_logged)) ),  with w = pi(a_logged|x) / pscore.
``evaluate`` runs every estimator with its bootstrap 95% interval (the same bootstrap draws for
all), and adds the effective sample size (sum w)^2 / sum w^2 and support warnings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np


class OPEError(ValueError):
    pass


def _check(reward, action, pscore, action_dist, estimated_rewards=None):
    reward = np.asarray(reward, dtype=float)
    action = np.asarray(action, dtype=int)
    pscore = np.asarray(pscore, dtype=float)
    action_dist = np.asarray(action_dist, dtype=float)
    n = len(reward)
    if n == 0:
        raise OPEError("no logged decisions to evaluate")
    if not (len(action) == len(pscore) == len(action_dist) == n):
        raise OPEError("reward, action, pscore and action_dist must have the same length")
    if np.isnan(reward).any() or np.isnan(action_dist).any():
        raise OPEError("NaN in rewards or target probabilities")
    if np.isnan(pscore).any() or (pscore <= 0).any() or (pscore > 1).any():
        bad = int((np.isnan(pscore) | (pscore <= 0) | (pscore > 1)).sum())
        raise OPEError(f"{bad} logged propensities are missing, zero or above 1; IPS weights would be infinite")
    if action.min() < 0 or action.max() >= action_dist.shape[1]:
        raise OPEError("logged action index out of range")
    if estimated_rewards is not None:
        estimated_rewards = np.asarray(estimated_rewards, dtype=float)
        if estimated_rewards.shape != action_dist.shape:
            raise OPEError("estimated_rewards must have the shape of action_dist")
    return reward, action, pscore, action_dist, estimated_rewards


def importance_weights(action, pscore, action_dist) -> np.ndarray:
    return action_dist[np.arange(len(action)), action] / pscore


def bootstrap_rows(n: int, n_bootstrap: int, seed: int) -> np.ndarray:
    """(n_bootstrap, n) row indices drawn with replacement; the same seed gives the same draws."""
    return np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))


def _interval(samples, alpha: float) -> Dict[str, float]:
    lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return {"lower": float(lo), "upper": float(hi)}


@dataclass
class BaseOffPolicyEstimator:
    """obp's shape: arrays in, numbers out; inputs checked once, here, for every estimator.

    - ``estimate_round_rewards``: one value per logged decision whose mean is the estimate;
    - ``estimate_policy_value``: the estimate;
    - ``estimate_interval``: a bootstrap (1 - alpha) interval, ``{"mean", "lower", "upper"}``.
    """
    estimator_name: str = "base"
    requires_estimated_rewards = False

    def _inputs(self, reward, action, pscore, action_dist, estimated_rewards):
        if self.requires_estimated_rewards and estimated_rewards is None:
            raise OPEError(f"{self.estimator_name} needs estimated_rewards from a reward model")
        return _check(reward, action, pscore, action_dist, estimated_rewards)

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        raise NotImplementedError

    def estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards=None) -> np.ndarray:
        return self._round_rewards(*self._inputs(reward, action, pscore, action_dist, estimated_rewards))

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        return float(self.estimate_round_rewards(reward, action, pscore, action_dist, estimated_rewards).mean())

    def _bootstrap(self, reward, action, pscore, action_dist, q, rows: np.ndarray) -> np.ndarray:
        return self._round_rewards(reward, action, pscore, action_dist, q)[rows].mean(axis=1)

    def estimate_interval(self, reward, action, pscore, action_dist, estimated_rewards=None, alpha: float = 0.05,
                          n_bootstrap: int = 300, seed: int = 0) -> Dict[str, float]:
        inputs = self._inputs(reward, action, pscore, action_dist, estimated_rewards)
        samples = self._bootstrap(*inputs, bootstrap_rows(len(inputs[0]), n_bootstrap, seed))
        return {"mean": self.estimate_policy_value(*inputs), **_interval(samples, alpha)}


@dataclass
class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    """IPS: V = mean(w r)."""
    estimator_name: str = "IPS"

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        return importance_weights(action, pscore, action_dist) * reward


@dataclass
class SelfNormalizedInverseProbabilityWeighting(BaseOffPolicyEstimator):
    """SNIPS: V = sum(w r) / sum(w). Round rewards are w r / mean(w), as obp's; the interval
    re-normalises in every bootstrap sample."""
    estimator_name: str = "SNIPS"

    @staticmethod
    def _weights(action, pscore, action_dist) -> np.ndarray:
        w = importance_weights(action, pscore, action_dist)
        if w.sum() == 0:
            raise OPEError("all importance weights are zero: the logs never took an action the target takes")
        return w

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        w = self._weights(action, pscore, action_dist)
        return w * reward / w.mean()

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        reward, action, pscore, action_dist, _ = self._inputs(reward, action, pscore, action_dist, estimated_rewards)
        w = self._weights(action, pscore, action_dist)
        return float((w * reward).sum() / w.sum())

    def _bootstrap(self, reward, action, pscore, action_dist, q, rows: np.ndarray) -> np.ndarray:
        w = self._weights(action, pscore, action_dist)
        num, den = (w * reward)[rows].sum(axis=1), w[rows].sum(axis=1)
        return num[den > 0] / den[den > 0]


@dataclass
class DoublyRobust(BaseOffPolicyEstimator):
    """DR: V = mean( sum_a pi(a|x) q(x, a) + w (r - q(x, a_logged)) )."""
    estimator_name: str = "DR"
    requires_estimated_rewards = True

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        idx = np.arange(len(action))
        w = importance_weights(action, pscore, action_dist)
        return (action_dist * q).sum(axis=1) + w * (reward - q[idx, action])


ESTIMATORS = (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DoublyRobust())


@dataclass
class Estimate:
    estimator: str
    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> Dict[str, float]:
        return {"estimator": self.estimator, "value": self.value, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass
class OPEReport:
    estimates: List[Estimate]
    effective_sample_size: float
    n: int
    max_weight: float
    unsupported_mass: Optional[float]
    warnings: List[str] = field(default_factory=list)

    def get(self, name: str) -> Estimate:
        return next(e for e in self.estimates if e.estimator == name)


def evaluate(reward, action, pscore, action_dist, estimated_rewards=None, logging_action_dist=None,
             n_bootstrap: int = 300, seed: int = 0, alpha: float = 0.05) -> OPEReport:
    """All estimators with bootstrap (1 - alpha) CIs, ESS and support diagnostics."""
    reward, action, pscore, action_dist, q = _check(reward, action, pscore, action_dist, estimated_rewards)
    n = len(reward)
    w = importance_weights(action, pscore, action_dist)
    ess = float(w.sum() ** 2 / max((w ** 2).sum(), 1e-12))
    warnings = []
    unsupported = None
    if logging_action_dist is not None:
        logging_action_dist = np.asarray(logging_action_dist, float)
        unsupported = float((action_dist * (logging_action_dist <= 0)).sum(axis=1).mean())
        if unsupported > 0:
            warnings.append(f"support: the target puts {unsupported:.1%} of its mass on prompts the logging "
                            "policy never tried in those states; IPS/SNIPS are biased there")
    if w.sum() == 0:
        warnings.append("overlap: no logged decision matches the target policy; IPS/SNIPS are uninformative")
    if ess < 0.01 * n:
        warnings.append(f"overlap: effective sample size {ess:.0f} is under 1% of {n} decisions")
    estimates = []
    for est in ESTIMATORS:
        if est.requires_estimated_rewards and q is None:
            continue
        try:
            ci = est.estimate_interval(reward, action, pscore, action_dist, q, alpha=alpha, n_bootstrap=n_bootstrap,
                                       seed=seed)
        except OPEError:  # SNIPS without any matching decision: already warned about above
            continue
        estimates.append(Estimate(est.estimator_name, ci["mean"], ci["lower"], ci["upper"]))
    return OPEReport(estimates, ess, n, float(w.max()), unsupported, warnings)
