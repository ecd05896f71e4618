"""Overlap diagnostics, in every OPE report: can the logs say anything about this target?

From the importance weights w (per decision: pi(a|x) / mu(a|x); per conversation: the
product over its decisions) and, where known, the logging policy's probabilities:

- ``ess``: effective sample size (sum w)^2 / sum w^2, and its share of n;
- ``weights``: quantiles (50, 90, 99%), max, and the largest weight's share of the total;
- ``unsupported_mass``: the share of the target's probability on prompts the logging policy
  could not take (probability 0) in the logged states; no estimator but a model sees those;
- ``per_prompt``: for each prompt, how often it was logged, the target's mean probability of
  it, and the share of that mass the logs cover (logging probability > 0);
- ``warnings`` and ``reliable``: the estimate is unreliable (the gate refuses) when the ESS is
  under ``MIN_ESS`` or under ``MIN_ESS_SHARE`` of n, when one weight carries more than
  ``MAX_WEIGHT_SHARE`` of the total, or when more than ``MAX_UNSUPPORTED`` of the target's mass
  is unsupported.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

MIN_ESS = 100.0
MIN_ESS_SHARE = 0.01
MAX_WEIGHT_SHARE = 0.05
MAX_UNSUPPORTED = 0.01


def overlap_diagnostics(w: np.ndarray, action: Optional[np.ndarray] = None, action_dist: Optional[np.ndarray] = None,
                        logging_action_dist: Optional[np.ndarray] = None, unit: str = "decisions",
                        prompt_names: Optional[Sequence[str]] = None) -> dict:
    w = np.asarray(w, float)
    n = len(w)
    total = float(w.sum())
    ess = total ** 2 / max(float((w ** 2).sum()), 1e-300) if total > 0 else 0.0
    q50, q90, q99 = (float(x) for x in np.quantile(w, [0.5, 0.9, 0.99])) if n else (0.0, 0.0, 0.0)
    weights = {"mean": float(w.mean()) if n else 0.0, "q50": q50, "q90": q90, "q99": q99,
               "max": float(w.max()) if n else 0.0, "max_share": float(w.max() / total) if total > 0 else 1.0,
               "zero_share": float((w == 0).mean()) if n else 1.0}
    unsupported = None
    per_prompt = None
    if action_dist is not None:
        action_dist = np.asarray(action_dist, float)
        K = action_dist.shape[1]
        names = list(prompt_names) if prompt_names is not None else _prompt_names(K)
        counts = np.bincount(np.asarray(action, int), minlength=K) if action is not None else np.zeros(K, int)
        covered = None
        if logging_action_dist is not None:
            logging_action_dist = np.asarray(logging_action_dist, float)
            covered = logging_action_dist > 0
            unsupported = float((action_dist * ~covered).sum(axis=1).mean())
        per_prompt = {}
        for k in range(K):
            mass = float(action_dist[:, k].mean())
            entry = {"logged": int(counts[k]), "target_mass": mass}
            if covered is not None:
                entry["supported_share"] = float((action_dist[:, k] * covered[:, k]).sum() / action_dist[:, k].sum()) \
                    if action_dist[:, k].sum() > 0 else 1.0
            per_prompt[names[k]] = entry
    warnings = []
    if total == 0:
        warnings.append(f"overlap: no logged {unit} match the target policy; importance-weighted estimates "
                        "are uninformative")
    elif ess < MIN_ESS or ess < MIN_ESS_SHARE * n:
        warnings.append(f"overlap: effective sample size {ess:.0f} of {n} {unit} (needs >= {MIN_ESS:.0f} and "
                        f">= {MIN_ESS_SHARE:.0%}); the estimate rests on few {unit}")
    if total > 0 and weights["max_share"] > MAX_WEIGHT_SHARE:
        warnings.append(f"overlap: one of the {n} {unit} carries {weights['max_share']:.1%} of the total weight "
                        f"(max weight {weights['max']:.1f})")
    if unsupported is not None and unsupported > 0:
        level = "support" if unsupported > MAX_UNSUPPORTED else "support (minor)"
        warnings.append(f"{level}: the target puts {unsupported:.1%} of its mass on prompts the logging policy "
                        "never tried in those states; IPS/SNIPS are biased there")
    reliable = not any(w_.startswith(("overlap", "support:")) for w_ in warnings)
    return {"n": n, "unit": unit, "ess": float(ess), "ess_share": float(ess / n) if n else 0.0, "weights": weights,
            "unsupported_mass": unsupported, "per_prompt": per_prompt, "warnings": warnings, "reliable": reliable}


def _prompt_names(K: int):
    try:
        from music_domain.prompts import PROMPT_NAMES

        if len(PROMPT_NAMES) == K:
            return list(PROMPT_NAMES)
    except ImportError:  # pragma: no cover - arrays from elsewhere
        pass
    return [str(k) for k in range(K)]
