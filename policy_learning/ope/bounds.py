"""High-confidence one-sided lower bounds on a target policy's value, for the deployment gate.

``hcope_lower_bound`` (Thomas, Theocharous & Ghavamzadeh 2015, "High confidence off-policy
evaluation"): each logged conversation i gives an importance-weighted return rho_i G_i, with
rho_i the product of its decisions' weights pi/mu and G_i in [0, 1] (success). Clipped at c,
Y_i = min(rho_i G_i, c) lies in [0, c] and E[Y] <= E[rho G] = V(pi), so the empirical Bernstein
bound (Maurer & Pontil 2009, Thm 4) on E[Y],

    mean(Y) - sqrt(2 Var(Y) ln(2/delta) / n) - 7 c ln(2/delta) / (3 (n - 1)),

is below V(pi) with probability >= 1 - delta, whatever c, given correct propensities. c is
chosen on a ``select_share`` of the conversations (drawn with ``seed``) to maximise the bound
predicted for the rest, and the bound is computed on the rest only, so the choice does not
spend the guarantee. Guaranteed, and conservative when few conversations follow the target.

``hcope_interval``: the same bound from both sides, a two-sided (1 - delta) interval that holds
whatever the overlap: E_mu[rho (hi - G)] = hi - V(pi) for returns in [lo, hi], so a lower
bound on it (delta / 2) is an upper bound on V(pi), and the lower bound above (delta / 2) the
other end. Wide when few conversations follow the target, never wrong for that reason.

``bootstrap_lower_bound``: the alpha quantile of an estimator's bootstrap distribution; no
guarantee, its false-promotion rate is measured (``benchmarks/ope_coverage.py``).
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from policy_learning.ope.per_decision import OPEError


def empirical_bernstein_lower(y: np.ndarray, b: float, delta: float) -> float:
    """Maurer & Pontil's one-sided bound on E[Y] for i.i.d. Y in [0, b]."""
    n = len(y)
    if n < 2:
        return 0.0
    log_term = np.log(2.0 / delta)
    var = float(np.var(y, ddof=1))
    return float(np.mean(y) - np.sqrt(2.0 * var * log_term / n) - 7.0 * b * log_term / (3.0 * (n - 1)))


def hcope_lower_bound(weighted_returns: np.ndarray, delta: float = 0.05, select_share: float = 0.1,
                      seed: int = 0, value_range=(0.0, 1.0), c: Optional[float] = None) -> Dict[str, float]:
    """``weighted_returns``: rho_i (G_i - lo) per conversation, for returns G_i in ``value_range``
    = (lo, hi); the bound is on V(pi) itself (lo added back)."""
    x = np.asarray(weighted_returns, float)
    if x.ndim != 1 or len(x) < 10:
        raise OPEError(f"the HCOPE bound needs at least 10 conversations, got {x.shape}")
    if not np.isfinite(x).all() or (x < -1e-12).any():
        raise OPEError("weighted returns must be finite and non-negative (returns shifted to start at 0)")
    lo, hi = value_range
    scale = hi - lo
    rng = np.random.default_rng(seed)
    if c is None:
        pre = rng.random(len(x)) < select_share
        x_pre, x_post = x[pre], x[~pre]
        positive = x_pre[x_pre > 0]
        grid = np.unique(np.r_[scale, np.quantile(positive, np.linspace(0.05, 1.0, 40)) if len(positive) else []])
        grid = grid[grid >= scale]
        n_post = len(x_post)

        def predicted(cc):
            y = np.minimum(x_pre, cc)
            log_term = np.log(2.0 / delta)
            return np.mean(y) - np.sqrt(2.0 * np.var(y, ddof=1) * log_term / n_post) - \
                7.0 * cc * log_term / (3.0 * (n_post - 1))

        c = float(grid[int(np.argmax([predicted(cc) for cc in grid]))])
    else:
        x_post = x
    bound = empirical_bernstein_lower(np.minimum(x_post, c), c, delta)
    return {"lower_bound": float(np.clip(bound + lo, lo, hi)), "clip": float(c), "n_used": int(len(x_post)),
            "delta": float(delta), "method": "hcope"}


def hcope_interval(weights: np.ndarray, returns: np.ndarray, delta: float = 0.05, seed: int = 0,
                   value_range=(0.0, 1.0)) -> Dict[str, float]:
    """Two-sided (1 - ``delta``) interval on V(pi) from per-conversation importance weights rho_i
    (products of pi / mu) and returns G_i in ``value_range``; guaranteed given correct propensities."""
    w, g = np.asarray(weights, float), np.asarray(returns, float)
    if w.shape != g.shape or w.ndim != 1:
        raise OPEError(f"weights and returns must be 1-d and of one length, got {w.shape} and {g.shape}")
    lo, hi = value_range
    if (g < lo - 1e-12).any() or (g > hi + 1e-12).any():
        raise OPEError(f"returns must lie in {value_range}")
    g = np.clip(g, lo, hi)
    lower = hcope_lower_bound(w * (g - lo), delta / 2, seed=seed, value_range=value_range)
    # a lower bound on E[rho (hi - G)] = hi - V, on the same scale (returned as lo + bound)
    upper_gap = hcope_lower_bound(w * (hi - g), delta / 2, seed=seed + 1, value_range=value_range)
    upper = hi - (upper_gap["lower_bound"] - lo)
    return {"lower": lower["lower_bound"], "upper": float(max(upper, lower["lower_bound"])), "delta": float(delta),
            "method": "hcope two-sided"}


def bootstrap_lower_bound(samples: np.ndarray, alpha: float = 0.05, value_range=(0.0, 1.0)) -> Dict[str, float]:
    samples = np.asarray(samples, float)
    if len(samples) == 0:
        raise OPEError("no bootstrap samples for a lower bound")
    return {"lower_bound": float(np.clip(np.quantile(samples, alpha), *value_range)), "delta": float(alpha),
            "n_used": int(len(samples)), "method": "bootstrap"}
