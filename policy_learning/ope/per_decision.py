"""Off-policy evaluation on plain arrays (obp-style: one class per estimator, arrays in, number out).

Inputs, for n logged decisions over K prompts:
- ``reward`` (n,): observed prompt-usefulness rewards;
- ``action`` (n,): index of the logged prompt;
- ``pscore`` (n,): the logging policy's probability of that prompt (propensity), in (0, 1];
- ``action_dist`` (n, K): the target policy's probabilities in each logged state;
- ``estimated_rewards`` (n, K): a reward model's predictions (doubly robust only).

Estimators: IPS  V = mean(w r);  SNIPS  V = sum(w r) / sum(w);
DR  V = mean( sum_a pi(a|x) q(x, a) + w (r - q(x, a_logged)) ),  with w = pi(a_logged|x) / pscore.
``evaluate`` adds bootstrap 95% confidence intervals, the effective sample size
(sum w)^2 / sum w^2 and support warnings.
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


class InverseProbabilityWeighting:
    name = "IPS"

    def estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards=None):
        reward, action, pscore, action_dist, _ = _check(reward, action, pscore, action_dist)
        return importance_weights(action, pscore, action_dist) * reward

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        return float(self.estimate_round_rewards(reward, action, pscore, action_dist).mean())


class SelfNormalizedInverseProbabilityWeighting(InverseProbabilityWeighting):
    name = "SNIPS"

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        reward, action, pscore, action_dist, _ = _check(reward, action, pscore, action_dist)
        w = importance_weights(action, pscore, action_dist)
        if w.sum() == 0:
            raise OPEError("all importance weights are zero: the logs never took an action the target takes")
        return float((w * reward).sum() / w.sum())


class DoublyRobust:
    name = "DR"

    def estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards=None):
        if estimated_rewards is None:
            raise OPEError("doubly robust needs estimated_rewards from a reward model")
        reward, action, pscore, action_dist, q = _check(reward, action, pscore, action_dist, estimated_rewards)
        idx = np.arange(len(action))
        w = importance_weights(action, pscore, action_dist)
        return (action_dist * q).sum(axis=1) + w * (reward - q[idx, action])

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        return float(self.estimate_round_rewards(reward, action, pscore, action_dist, estimated_rewards).mean())


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
    rng = np.random.default_rng(seed)
    boots = rng.integers(0, n, size=(n_bootstrap, n))
    estimates = []
    for est in ESTIMATORS:
        if est.name == "DR" and q is None:
            continue
        if est.name == "SNIPS" and w.sum() == 0:
            continue
        value = est.estimate_policy_value(reward, action, pscore, action_dist, q)
        if est.name == "SNIPS":
            wr = w * reward
            num, den = wr[boots].sum(axis=1), w[boots].sum(axis=1)
            samples = num[den > 0] / den[den > 0]
        else:
            rounds = est.estimate_round_rewards(reward, action, pscore, action_dist, q)
            samples = rounds[boots].mean(axis=1)
        lo, hi = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
        estimates.append(Estimate(est.name, value, float(lo), float(hi)))
    return OPEReport(estimates, ess, n, float(w.max()), unsupported, warnings)
