"""Logs written by several deployed versions, evaluated as one logging process.

After a few rounds the logs come from several logging policies: the rule-based policy with its
exploration, then each promoted version with its own. Importance weights against each
conversation's own logger are huge wherever that logger rarely took the candidate's action,
even when another logger took it often. Treating the logs as written by **one** process that
draws a logger per conversation with probability ``w_k`` (its share of the conversations)
gives the balance heuristic (Veach & Guibas 1995; for logged bandit feedback from several
loggers, Agarwal et al. 2017): the propensity of a decision is the mixture of the loggers'
probabilities, each weighted by how likely that logger is given the conversation so far,

    mu(a | s_t, history) = sum_k P(k | history) mu_k(a | s_t),
    P(k | history) ∝ w_k prod_{j<t} mu_k(a_j | s_j),

so the cumulative product of these propensities is sum_k w_k prod_{j<=t} mu_k(a_j | s_j), the
whole conversation's probability under the mixture. ``mixture_propensities`` rewrites the
``propensity`` and ``probabilities`` columns this way; every estimator then uses them unchanged.

Each logger is rebuilt from its logged name and version: a registry version (with the
exploration it was deployed with) or the built-in rule-based policy with epsilon-greedy
exploration. A logger that cannot be rebuilt, or whose rebuilt probabilities disagree with
what it logged, leaves the logs as they were (with the reason).
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd

from prompt_policies import PROMPT_INDEX
from prompt_policies.mixture import _batch

AGREEMENT_TOLERANCE = 1e-3


def rebuild_logger(policy: str, version: str, registry=None):
    """The logging policy (with its exploration) from its logged name and version, or None."""
    from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy

    builtin = (RuleBasedPromptPolicy.version, "rule_based")  # older rule versions are other rules
    m = re.fullmatch(r"rule_based\+(epsilon_greedy|softmax|directed)\(([0-9.eE+-]+)\)", str(policy))
    if m and str(version) in builtin:
        return ExplorationPolicy(RuleBasedPromptPolicy(), float(m.group(2)), m.group(1))
    if str(policy) == "rule_based" and str(version) in builtin:
        return RuleBasedPromptPolicy()
    if registry is not None and re.fullmatch(r"v\d+", str(version)):
        try:
            deployed = registry.load(str(version))
        except Exception:  # noqa: BLE001 - any unloadable version: no rebuild
            return None
        logged = deployed.with_exploration()
        return logged if logged.name == policy else None
    return None


def mixture_propensities(logs: pd.DataFrame, registry=None) -> Tuple[pd.DataFrame, str]:
    """(logs with mixture propensities, what was done). Logs of one logger come back unchanged."""
    loggers = logs.groupby(["policy", "policy_version"], sort=True)["conversation_id"].nunique()
    if len(loggers) < 2:
        return logs, "one logging policy: its own propensities"
    X = np.stack(logs["features"].to_numpy()).astype(np.float32)
    conv_share = loggers / loggers.sum()
    probs: Dict[Tuple[str, str], np.ndarray] = {}
    for (policy, version) in loggers.index:
        logger = rebuild_logger(policy, version, registry)
        if logger is None:
            return logs, f"logger {policy} {version} cannot be rebuilt: each conversation keeps its own propensities"
        p = _batch(logger, X)
        own = ((logs["policy"] == policy) & (logs["policy_version"] == version)).to_numpy()
        logged = np.stack(logs.loc[own, "probabilities"].to_numpy())
        if np.abs(p[own] - logged).max() > AGREEMENT_TOLERANCE:
            return logs, (f"logger {policy} {version} rebuilt does not reproduce its logged probabilities: each "
                          f"conversation keeps its own propensities")
        probs[(policy, version)] = p
    keys = list(probs)
    w = np.array([conv_share[k] for k in keys])
    P = np.stack([probs[k] for k in keys])  # (L, n, K)
    actions = logs["prompt"].map(PROMPT_INDEX).to_numpy()
    taken = P[:, np.arange(len(logs)), actions]  # (L, n)
    # P(k | history before step t), conversation by conversation (rows sorted by conversation, turn)
    order = np.lexsort((logs["turn"].to_numpy(), logs["conversation_id"].to_numpy()))
    conv = logs["conversation_id"].to_numpy()[order]
    first = np.r_[True, conv[1:] != conv[:-1]]
    log_taken = np.log(np.clip(taken[:, order], 1e-300, None))
    cum = np.cumsum(log_taken, axis=1)
    # sum of log mu_k over the conversation's earlier steps: cumulative sum reset at each conversation
    start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
    before = cum - log_taken - np.where(start > 0, cum[:, np.maximum(start - 1, 0)], 0.0)
    logpost = np.log(w)[:, None] + before
    post = np.exp(logpost - logpost.max(axis=0))
    post /= post.sum(axis=0)
    mix = np.einsum("ln,lnk->nk", post, P[:, order])
    out = logs.copy()
    dist = np.empty_like(mix)
    dist[order] = mix
    out["probabilities"] = list(dist.astype(np.float32))
    out["propensity"] = dist[np.arange(len(out)), actions]
    return out, (f"{len(keys)} logging policies as one mixture (balance heuristic): "
                 + ", ".join(f"{v} {share:.0%}" for (_, v), share in zip(keys, w)))

