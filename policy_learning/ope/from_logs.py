"""Off-policy evaluation of a prompt policy from a logged-decisions DataFrame.

Glue between the Parquet logs and the array estimators:

- ``per_decision``: IPS / SNIPS / DM / DR and the low-overlap estimators of the policy's mean
  prompt usefulness on the logged states (``policy_learning.ope.per_decision``), with a
  **cross-fitted** reward model as the regression;
- ``conversation_success``: PDIS / PDWIS / sequential DR of the success rate of conversations
  run by the policy (``policy_learning.ope.sequential``), with a **cross-fitted** fitted Q
  evaluation of the policy as DR's regression, intervals clipped to [0, 1], and the gate's
  one-sided lower bounds.

Cross-fitting (as obp's ``RegressionModel(n_folds=...)``, by conversation): the logs are split
into ``n_folds`` folds of whole conversations; each fold's predictions come from a model
fitted on the other folds, so no model predicts a decision it was fitted to. The bootstrap
then resamples conversations with those out-of-fold predictions; its coverage of the
simulated truth, model error included, is measured by ``benchmarks/ope_coverage.py``.

``target`` is the policy evaluated (``probabilities_batch``), or its (n, K) probabilities on
the logged states.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from policy_learning.fitted_q import FittedQEvaluation
from policy_learning.log_schema import validate_logs
from policy_learning.ope.per_decision import OPEReport, evaluate
from policy_learning.ope.sequential import SequentialReport, evaluate_sequential
from policy_learning.reward_model import RewardModel
from policy_learning.training import design
from music_domain.dialogue_state import feature_names

N_FOLDS = 3
N_SPLITS = 1


class LoggedStatesPolicy:
    """A target policy known only by its (n, K) probabilities on the logged states (e.g. the
    logging policy without its exploration), in the interface FQE evaluates."""

    def __init__(self, action_dist: np.ndarray):
        self.action_dist = np.asarray(action_dist, float)

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        if len(X) != len(self.action_dist):
            raise ValueError(f"this policy is known on {len(self.action_dist)} logged states, asked for {len(X)}")
        return self.action_dist


def _target(policy_or_dist, X: np.ndarray) -> np.ndarray:
    """The target's (n, K) probabilities on X, from a policy or from probabilities."""
    if hasattr(policy_or_dist, "probabilities_batch"):
        return np.asarray(policy_or_dist.probabilities_batch(X), float)
    return np.asarray(policy_or_dist, float)


def logged_action_dist(logs: pd.DataFrame) -> np.ndarray:
    """The logging policy's (n, K) probabilities, from logs the schema's validator accepts."""
    validate_logs(logs)
    return np.stack(logs["probabilities"].to_numpy()).astype(float)


def greedy_logging_dist(logs: pd.DataFrame) -> np.ndarray:
    """The logging policy without its exploration: all mass on its most probable prompt.
    (For epsilon-greedy logging around the rule-based policy this is the rule-based policy.)"""
    probs = logged_action_dist(logs)
    out = np.zeros_like(probs)
    out[np.arange(len(probs)), probs.argmax(axis=1)] = 1.0
    return out


def conversation_folds(conversation_ids: np.ndarray, n_folds: int = N_FOLDS, seed: int = 0) -> np.ndarray:
    """A fold index per decision; every conversation's decisions share a fold."""
    if n_folds < 2:
        raise ValueError(f"cross-fitting needs at least 2 folds, got {n_folds}")
    ids, inverse = np.unique(np.asarray(conversation_ids), return_inverse=True)
    if len(ids) < n_folds:
        raise ValueError(f"{len(ids)} conversations cannot be split into {n_folds} folds")
    fold_of_id = np.random.default_rng(seed).permutation(len(ids)) % n_folds
    return fold_of_id[inverse]


def cross_fitted_rewards(X, actions, rewards, with_history: bool, folds: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, K) predicted usefulness, each fold's rows from a reward model fitted on the other folds."""
    q = np.zeros((len(X), 0))
    for k in np.unique(folds):
        test = folds == k
        model = RewardModel(feature_names(with_history), seed=seed).fit(X[~test], actions[~test], rewards[~test])
        pred = model.predict(X[test])
        if q.shape[1] == 0:
            q = np.zeros((len(X), pred.shape[1]))
        q[test] = pred
    return q


def cross_fitted_q(X, actions, conversation_ids, turns, success, target_dist: np.ndarray, with_history: bool,
                   folds: np.ndarray, seed: int = 0, fqe_kwargs: Optional[dict] = None) -> np.ndarray:
    """(n, K) Q of the target policy, each fold's rows from a fitted Q evaluation fitted on the other folds
    (``fqe_kwargs``: passed to ``FittedQEvaluation``)."""
    q = np.zeros_like(target_dist)
    for k in np.unique(folds):
        test = folds == k
        fqe = FittedQEvaluation(LoggedStatesPolicy(target_dist[~test]), feature_names(with_history), seed=seed,
                                **(fqe_kwargs or {}))
        fqe.fit(X[~test], actions[~test], conversation_ids[~test], turns[~test], success[~test])
        q[test] = fqe.predict(X[test])
    return q


def per_decision(logs: pd.DataFrame, with_history: bool, target, reward_model=None, n_bootstrap: int = 300,
                 seed: int = 0, n_folds: int = N_FOLDS) -> OPEReport:
    """``reward_model``: None (default) cross-fits one on these logs; a fitted model must have
    been fitted on other logs than these."""
    X, actions, rewards = design(logs, with_history)
    target_dist = _target(target, X)
    if reward_model is None:
        q = cross_fitted_rewards(X, actions, rewards, with_history,
                                 conversation_folds(logs["conversation_id"].to_numpy(), n_folds, seed), seed)
    else:
        q = reward_model.predict(X)
    return evaluate(rewards, actions, logs["propensity"].to_numpy(), target_dist, q,
                    logging_action_dist=logged_action_dist(logs), n_bootstrap=n_bootstrap, seed=seed,
                    bounds=(0.0, 1.0))


def success_rewards(logs: pd.DataFrame) -> np.ndarray:
    """1 on a conversation's last decision when the listener accepted, else 0."""
    last = logs.groupby("conversation_id")["turn"].transform("max").to_numpy() == logs["turn"].to_numpy()
    return (last & logs["success"].to_numpy().astype(bool)).astype(float)


def conversation_success(logs: pd.DataFrame, with_history: bool, target, n_bootstrap: int = 300,
                         seed: int = 0, n_folds: int = N_FOLDS, alpha: float = 0.05,
                         fqe_kwargs: Optional[dict] = None, n_splits: int = N_SPLITS,
                         fit_q: bool = True) -> SequentialReport:
    """``target``: the policy evaluated (``probabilities_batch``), or its (n, K) probabilities on
    the logged states. Every estimate, interval and bound is of a success rate, in [0, 1].
    ``fqe_kwargs``: passed to ``FittedQEvaluation`` (e.g. to compare fits). ``n_splits``:
    repeated cross-fitting, each split with other folds (seeds ``seed``, ``seed + 1``, ...);
    doubly robust estimates average the splits and their intervals pool the splits' bootstrap
    samples (``evaluate_sequential``). ``fit_q=False`` skips the fitted Q evaluation: only the
    importance-sampling estimators, the diagnostics and the HCOPE bound (cheap, e.g. to choose
    between candidates)."""
    if n_splits < 1:
        raise ValueError(f"n_splits must be at least 1, got {n_splits}")
    X, actions, _ = design(logs, with_history)
    target_dist = _target(target, X)
    conv, turn = logs["conversation_id"].to_numpy(), logs["turn"].to_numpy()
    q = None
    if fit_q:
        q = [cross_fitted_q(X, actions, conv, turn, logs["success"].to_numpy(), target_dist, with_history,
                            conversation_folds(conv, n_folds, seed + s), seed + s, fqe_kwargs)
             for s in range(n_splits)]
    return evaluate_sequential(conv, turn, success_rewards(logs), actions, logs["propensity"].to_numpy(),
                               target_dist, q, n_bootstrap=n_bootstrap, seed=seed, alpha=alpha, bounds=(0.0, 1.0),
                               logging_action_dist=logged_action_dist(logs))
