"""Off-policy evaluation of single decisions on plain arrays, in obp's shape: one dataclass per
estimator with ``estimate_round_rewards``, ``estimate_policy_value`` and ``estimate_interval``,
and one input check shared by all (``_check``).

Inputs, for n logged decisions over K prompts:
- ``reward`` (n,): observed prompt-usefulness rewards;
- ``action`` (n,): index of the logged prompt;
- ``pscore`` (n,): the logging policy's probability of that prompt (propensity), in (0, 1];
- ``action_dist`` (n, K): the target policy's probabilities in each logged state;
- ``estimated_rewards`` (n, K): a reward model's predictions (doubly robust only).

Estimators (obp's definitions, ``st-tech/zr-obp`` ``obp/ope/estimators.py``), w = pi(a_logged|x) / pscore,
q(x, pi) = sum_a pi(a|x) q(x, a):

- IPS  V = mean(min(w, lambda_) r)  (``lambda_`` = inf: plain IPS; finite: weight clipping);
- SNIPS  V = sum(w r) / sum(w);
- DM  V = mean(q(x, pi));
- DR  V = mean(q(x, pi) + min(w, lambda_) (r - q(x, a_logged)));
- SNDR  V = mean(q(x, pi) + w (r - q(x, a_logged)) / mean(w));
- Switch-DR  DR with the weight w 1{w <= lambda_};
- DRos  DR with the weight lambda_ w / (w^2 + lambda_).

``evaluate`` runs every estimator with its bootstrap 95% interval (the same bootstrap draws for
all; biased ones widened by their bias bound) and the overlap diagnostics with their warnings
(``policy_learning.ope.diagnostics``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np


class OPEError(ValueError):
    pass


PROBABILITY_TOLERANCE = 1e-4  # target probabilities may come from float32 logs (log_schema's tolerance)


def _vector(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise OPEError(f"{name} must be 1-dimensional (n,), got shape {x.shape}; "
                       "an (n, 1) column would broadcast silently, flatten it first")
    return x


def _check(reward, action, pscore, action_dist, estimated_rewards=None):
    """The one input check of every estimator here and in ``sequential``: shapes, types and
    ranges, each failure an ``OPEError`` that says what is wrong."""
    reward = _vector(reward, "reward").astype(float)
    pscore = _vector(pscore, "pscore").astype(float)
    raw_action = _vector(action, "action")
    if raw_action.size and raw_action.dtype.kind not in "iub":
        if raw_action.dtype.kind != "f":
            raise OPEError(f"action must hold integer prompt indices, got dtype {raw_action.dtype}")
        if not np.isfinite(raw_action).all() or (raw_action != np.round(raw_action)).any():
            raise OPEError("action holds values that are not whole numbers; they would be truncated to "
                           "prompt indices (pass integer indices)")
    action = raw_action.astype(int)
    action_dist = np.asarray(action_dist, dtype=float)
    n = len(reward)
    if n == 0:
        raise OPEError("no logged decisions to evaluate")
    if action_dist.ndim != 2:
        raise OPEError(f"action_dist must be (n, n_actions), got shape {action_dist.shape}")
    if not (len(action) == len(pscore) == len(action_dist) == n):
        raise OPEError("reward, action, pscore and action_dist must have the same length "
                       f"(got {n}, {len(action)}, {len(pscore)}, {len(action_dist)})")
    if not np.isfinite(reward).all():
        raise OPEError(f"{int((~np.isfinite(reward)).sum())} rewards are NaN or infinite")
    if not np.isfinite(action_dist).all():
        raise OPEError("NaN or inf in the target probabilities (action_dist)")
    bad = np.isnan(pscore) | (pscore <= 0) | (pscore > 1)
    if bad.any():
        raise OPEError(f"{int(bad.sum())} logged propensities are missing, zero or above 1; IPS weights would be infinite")
    if action.min() < 0 or action.max() >= action_dist.shape[1]:
        raise OPEError("logged action index out of range")
    if (action_dist < 0).any():
        raise OPEError("action_dist has negative probabilities")
    row_sums = action_dist.sum(axis=1)
    off = np.abs(row_sums - 1.0) > PROBABILITY_TOLERANCE
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise OPEError(f"{int(off.sum())} rows of action_dist do not sum to 1 (row {i} sums to {row_sums[i]:.6g}); "
                       "the target policy's probabilities must be a distribution in every state")
    if estimated_rewards is not None:
        estimated_rewards = np.asarray(estimated_rewards, dtype=float)
        if estimated_rewards.shape != action_dist.shape:
            raise OPEError(f"estimated_rewards must have the shape of action_dist {action_dist.shape}, "
                           f"got {estimated_rewards.shape}")
        if not np.isfinite(estimated_rewards).all():
            raise OPEError(f"{int((~np.isfinite(estimated_rewards)).sum())} estimated_rewards are NaN or infinite; "
                           "the reward model's predictions would propagate into DR")
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
    - ``estimate_interval``: a bootstrap (1 - alpha) interval, ``{"mean", "lower", "upper", "bias"}``.
      For estimators that trade bias for variance (weight clipping, Switch-DR, DRos) the interval
      is widened on both sides by a bootstrap (1 - alpha/2) upper bound of obp's bias estimate
      |mean((w - w_hat)(r - q))| (``estimate_bias_in_ope``), so the bias is inside it; obp's own
      interval leaves the bias out. ``bias`` is that bound (0 for unbiased estimators).
    """
    estimator_name: str = "base"
    requires_estimated_rewards = False

    def _inputs(self, reward, action, pscore, action_dist, estimated_rewards):
        if self.requires_estimated_rewards and estimated_rewards is None:
            raise OPEError(f"{self.estimator_name} needs estimated_rewards from a reward model")
        return _check(reward, action, pscore, action_dist, estimated_rewards)

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        raise NotImplementedError

    def _bias_terms(self, reward, action, pscore, action_dist, q) -> Optional[np.ndarray]:
        """Per-decision (w - w_hat)(r - q(x, a)) for estimators with modified weights, else None."""
        return None

    def estimate_round_rewards(self, reward, action, pscore, action_dist, estimated_rewards=None) -> np.ndarray:
        return self._round_rewards(*self._inputs(reward, action, pscore, action_dist, estimated_rewards))

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        return float(self.estimate_round_rewards(reward, action, pscore, action_dist, estimated_rewards).mean())

    def _value(self, *inputs) -> float:
        return float(self._round_rewards(*inputs).mean())

    def _bootstrap(self, reward, action, pscore, action_dist, q, rows: np.ndarray) -> np.ndarray:
        return self._round_rewards(reward, action, pscore, action_dist, q)[rows].mean(axis=1)

    def estimate_bias(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        """obp's ``estimate_bias_in_ope``: |mean((w - w_hat)(r - q))|, 0 for unbiased estimators."""
        terms = self._bias_terms(*self._inputs(reward, action, pscore, action_dist, estimated_rewards))
        return 0.0 if terms is None else float(abs(terms.mean()))

    def _interval(self, inputs, rows: np.ndarray, alpha: float) -> Dict[str, float]:
        samples = self._bootstrap(*inputs, rows)
        if len(samples) == 0:
            raise OPEError(f"{self.estimator_name}: no bootstrap sample had a decision matching the target")
        ci = _interval(samples, alpha)
        terms = self._bias_terms(*inputs)
        bias = 0.0 if terms is None else float(np.quantile(np.abs(terms[rows].mean(axis=1)), 1 - alpha / 2))
        return {"mean": self._value(*inputs), "lower": ci["lower"] - bias, "upper": ci["upper"] + bias, "bias": bias}

    def estimate_interval(self, reward, action, pscore, action_dist, estimated_rewards=None, alpha: float = 0.05,
                          n_bootstrap: int = 300, seed: int = 0) -> Dict[str, float]:
        inputs = self._inputs(reward, action, pscore, action_dist, estimated_rewards)
        return self._interval(inputs, bootstrap_rows(len(inputs[0]), n_bootstrap, seed), alpha)


def _q_pi(action_dist, q) -> np.ndarray:
    """q(x, pi) = sum_a pi(a|x) q(x, a) (obp: np.average(q, weights=pi, axis=1) with rows summing to 1)."""
    return (action_dist * q).sum(axis=1)


def _q_factual(action, q) -> np.ndarray:
    return q[np.arange(len(action)), action]


@dataclass
class InverseProbabilityWeighting(BaseOffPolicyEstimator):
    """IPS: V = mean(min(w, lambda_) r); ``lambda_`` (obp's name) clips the weights, inf: none."""
    lambda_: float = np.inf
    estimator_name: str = "IPS"

    def __post_init__(self):
        if not self.lambda_ > 0:
            raise OPEError(f"{self.estimator_name}: the clipping threshold lambda_ must be > 0, got {self.lambda_}")

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        return np.minimum(importance_weights(action, pscore, action_dist), self.lambda_) * reward

    def _bias_terms(self, reward, action, pscore, action_dist, q):
        if not np.isfinite(self.lambda_):
            return None
        w = importance_weights(action, pscore, action_dist)
        return (w - np.minimum(w, self.lambda_)) * reward


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

    def _value(self, reward, action, pscore, action_dist, q) -> float:
        w = self._weights(action, pscore, action_dist)
        return float((w * reward).sum() / w.sum())

    def estimate_policy_value(self, reward, action, pscore, action_dist, estimated_rewards=None) -> float:
        return self._value(*self._inputs(reward, action, pscore, action_dist, estimated_rewards))

    def _bootstrap(self, reward, action, pscore, action_dist, q, rows: np.ndarray) -> np.ndarray:
        w = self._weights(action, pscore, action_dist)
        num, den = (w * reward)[rows].sum(axis=1), w[rows].sum(axis=1)
        return num[den > 0] / den[den > 0]


@dataclass
class DirectMethod(BaseOffPolicyEstimator):
    """DM: V = mean(sum_a pi(a|x) q(x, a)); the baseline, as biased as the reward model."""
    estimator_name: str = "DM"
    requires_estimated_rewards = True

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        return _q_pi(action_dist, q)


@dataclass
class DoublyRobust(BaseOffPolicyEstimator):
    """DR: V = mean( q(x, pi) + min(w, lambda_) (r - q(x, a_logged)) ); ``lambda_`` clips, inf: none."""
    lambda_: float = np.inf
    estimator_name: str = "DR"
    requires_estimated_rewards = True

    def __post_init__(self):
        if not self.lambda_ > 0:
            raise OPEError(f"{self.estimator_name}: the clipping threshold lambda_ must be > 0, got {self.lambda_}")

    def _modified_weights(self, w: np.ndarray) -> np.ndarray:
        return np.minimum(w, self.lambda_)

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        w_hat = self._modified_weights(importance_weights(action, pscore, action_dist))
        return _q_pi(action_dist, q) + w_hat * (reward - _q_factual(action, q))

    def _bias_terms(self, reward, action, pscore, action_dist, q):
        if not np.isfinite(self.lambda_):
            return None
        w = importance_weights(action, pscore, action_dist)
        return (w - self._modified_weights(w)) * (reward - _q_factual(action, q))


@dataclass
class SelfNormalizedDoublyRobust(BaseOffPolicyEstimator):
    """SNDR: V = mean( q(x, pi) + w (r - q(x, a_logged)) / mean(w) ), as obp's."""
    estimator_name: str = "SNDR"
    requires_estimated_rewards = True

    def _round_rewards(self, reward, action, pscore, action_dist, q) -> np.ndarray:
        w = SelfNormalizedInverseProbabilityWeighting._weights(action, pscore, action_dist)
        return _q_pi(action_dist, q) + w * (reward - _q_factual(action, q)) / w.mean()

    def _bootstrap(self, reward, action, pscore, action_dist, q, rows: np.ndarray) -> np.ndarray:
        w = SelfNormalizedInverseProbabilityWeighting._weights(action, pscore, action_dist)
        dm, corr = _q_pi(action_dist, q)[rows].mean(axis=1), (w * (reward - _q_factual(action, q)))[rows].sum(axis=1)
        den = w[rows].sum(axis=1)
        return dm[den > 0] + corr[den > 0] / den[den > 0]


@dataclass
class SwitchDoublyRobust(DoublyRobust):
    """Switch-DR: V = mean( q(x, pi) + w 1{w <= lambda_} (r - q(x, a_logged)) ): DM where the
    weight is above ``lambda_`` (Wang et al. 2017; obp's ``lambda_``)."""
    lambda_: float = np.inf
    estimator_name: str = "SwitchDR"

    def __post_init__(self):
        if not self.lambda_ >= 0:
            raise OPEError(f"{self.estimator_name}: the switching threshold lambda_ must be >= 0, got {self.lambda_}")

    def _modified_weights(self, w: np.ndarray) -> np.ndarray:
        return w * (w <= self.lambda_)


@dataclass
class DoublyRobustWithShrinkage(DoublyRobust):
    """DRos: V = mean( q(x, pi) + lambda_ w / (w^2 + lambda_) (r - q(x, a_logged)) ), optimistic
    shrinkage (Su et al. 2020); lambda_ = 0 is DM, lambda_ = inf is DR."""
    lambda_: float = 0.0
    estimator_name: str = "DRos"

    def __post_init__(self):
        if not self.lambda_ >= 0:
            raise OPEError(f"{self.estimator_name}: the shrinkage lambda_ must be >= 0, got {self.lambda_}")

    def _modified_weights(self, w: np.ndarray) -> np.ndarray:
        if not np.isfinite(self.lambda_):
            return w
        if self.lambda_ == 0:
            return np.zeros_like(w)
        return self.lambda_ * w / (w ** 2 + self.lambda_)


# Thresholds of the low-overlap estimators in ``evaluate``: a weight above 10 means the target
# is 10 times likelier than the logging policy to take the logged prompt (epsilon = 0.3 over 8
# prompts logs an off-policy prompt with probability 0.0375, weight 26.7). DRos's lambda_ is on the
# scale of w^2: CLIP^2 halves a weight of CLIP.
CLIP = 10.0
ESTIMATORS = (InverseProbabilityWeighting(), SelfNormalizedInverseProbabilityWeighting(), DoublyRobust(),
              DirectMethod(), InverseProbabilityWeighting(lambda_=CLIP, estimator_name="IPS-clip"),
              DoublyRobust(lambda_=CLIP, estimator_name="DR-clip"), SelfNormalizedDoublyRobust(),
              SwitchDoublyRobust(lambda_=CLIP), DoublyRobustWithShrinkage(lambda_=CLIP ** 2))


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
    diagnostics: Optional[dict] = None

    def get(self, name: str) -> Estimate:
        return next(e for e in self.estimates if e.estimator == name)

    @property
    def reliable(self) -> bool:
        return bool(self.diagnostics["reliable"]) if self.diagnostics else not self.warnings


def evaluate(reward, action, pscore, action_dist, estimated_rewards=None, logging_action_dist=None,
             n_bootstrap: int = 300, seed: int = 0, alpha: float = 0.05, bounds=None) -> OPEReport:
    """All estimators with bootstrap (1 - alpha) CIs (the same draws for all), and the overlap
    diagnostics (``policy_learning.ope.diagnostics``) with their warnings. ``bounds``: the
    range of the value (e.g. (0, 1)); estimates and intervals are clipped to it."""
    from policy_learning.ope.diagnostics import overlap_diagnostics

    inputs = _check(reward, action, pscore, action_dist, estimated_rewards)
    reward, action, pscore, action_dist, q = inputs
    n = len(reward)
    w = importance_weights(action, pscore, action_dist)
    diag = overlap_diagnostics(w, action, action_dist, logging_action_dist)
    rows = bootstrap_rows(n, n_bootstrap, seed)
    estimates = []
    for est in ESTIMATORS:
        if est.requires_estimated_rewards and q is None:
            continue
        try:
            ci = est._interval(inputs, rows, alpha)
        except OPEError:  # SNIPS/SNDR without any matching decision: already warned about
            continue
        lo, hi, value = ci["lower"], ci["upper"], ci["mean"]
        if bounds is not None:  # a value outside its range is known to be wrong: project it back
            lo, hi, value = (float(np.clip(x, *bounds)) for x in (lo, hi, value))
        estimates.append(Estimate(est.estimator_name, value, lo, hi))
    return OPEReport(estimates, diag["ess"], n, diag["weights"]["max"], diag["unsupported_mass"],
                     list(diag["warnings"]), diag)
