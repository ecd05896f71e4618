"""Off-policy evaluation of a prompt policy from a logged-decisions DataFrame.

Glue between the Parquet logs and the array estimators:

- ``per_decision``: IPS / SNIPS / DR of the policy's mean prompt usefulness on the logged
  states (``policy_learning.ope.per_decision``), with the reward model as DR's regression;
- ``conversation_success``: PDIS / PDWIS / sequential DR of the success rate of
  conversations run by the policy (``policy_learning.ope.sequential``), with a fitted Q
  evaluation of the policy as DR's regression.

``target_dist`` is the target policy's (n, K) action probabilities on the logged states.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from policy_learning.fitted_q import FittedQEvaluation
from policy_learning.log_schema import validate_logs
from policy_learning.ope.per_decision import OPEReport, evaluate
from policy_learning.ope.sequential import SequentialReport, evaluate_sequential
from policy_learning.training import design
from music_domain.dialogue_state import feature_names


class LoggedStatesPolicy:
    """A target policy known only by its (n, K) probabilities on the logged states (e.g. the
    logging policy without its exploration), in the interface FQE evaluates."""

    def __init__(self, action_dist: np.ndarray):
        self.action_dist = np.asarray(action_dist, float)

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        if len(X) != len(self.action_dist):
            raise ValueError(f"this policy is known on {len(self.action_dist)} logged states, asked for {len(X)}")
        return self.action_dist


def _target(policy_or_dist, X: np.ndarray):
    """(policy, its (n, K) probabilities on X) from a policy or from probabilities."""
    if hasattr(policy_or_dist, "probabilities_batch"):
        return policy_or_dist, np.asarray(policy_or_dist.probabilities_batch(X), float)
    return LoggedStatesPolicy(policy_or_dist), np.asarray(policy_or_dist, float)


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


def per_decision(logs: pd.DataFrame, with_history: bool, target, reward_model,
                 n_bootstrap: int = 300, seed: int = 0) -> OPEReport:
    """``target``: the policy evaluated, or its (n, K) probabilities on the logged states."""
    X, actions, rewards = design(logs, with_history)
    _, target_dist = _target(target, X)
    return evaluate(rewards, actions, logs["propensity"].to_numpy(), target_dist, reward_model.predict(X),
                    logging_action_dist=logged_action_dist(logs), n_bootstrap=n_bootstrap, seed=seed)


def success_rewards(logs: pd.DataFrame) -> np.ndarray:
    """1 on a conversation's last decision when the listener accepted, else 0."""
    last = logs.groupby("conversation_id")["turn"].transform("max").to_numpy() == logs["turn"].to_numpy()
    return (last & logs["success"].to_numpy().astype(bool)).astype(float)


def conversation_success(logs: pd.DataFrame, with_history: bool, target, n_bootstrap: int = 300,
                         seed: int = 0) -> SequentialReport:
    """``target``: the policy evaluated (``probabilities_batch``), or its (n, K) probabilities on
    the logged states."""
    X, actions, _ = design(logs, with_history)
    policy, target_dist = _target(target, X)
    conv, turn = logs["conversation_id"].to_numpy(), logs["turn"].to_numpy()
    fqe = FittedQEvaluation(policy, feature_names(with_history), seed=seed)
    fqe.fit(X, actions, conv, turn, logs["success"].to_numpy())
    return evaluate_sequential(conv, turn, success_rewards(logs), actions, logs["propensity"].to_numpy(),
                               target_dist, fqe.predict(X), n_bootstrap=n_bootstrap, seed=seed)
