"""Training the learned prompt policies from logged decisions (``policy_learning.log_schema``):
design matrices, the held-out split by conversation, the arm's subset, the reward model."""
from __future__ import annotations

import numpy as np
import pandas as pd

from music_domain.dialogue_state import ALL_FEATURES, BASE_FEATURES, feature_names
from policy_learning.log_schema import LogError, read_logs
from policy_learning.reward_model import RewardModel
from prompt_policies import PROMPT_INDEX


def design(logs: pd.DataFrame, with_history: bool):
    X = np.stack(logs["features"].to_numpy()).astype(np.float32)
    if X.shape[1] != len(ALL_FEATURES):
        raise LogError(f"logged features have {X.shape[1]} columns, expected {len(ALL_FEATURES)}")
    if not with_history:
        X = X[:, :len(BASE_FEATURES)]
    return X, logs["prompt"].map(PROMPT_INDEX).to_numpy(), logs["reward"].to_numpy()


def split_by_conversation(logs: pd.DataFrame, test_share: float = 0.3, seed: int = 0):
    """(train, held_out): whole conversations, ``test_share`` of them held out for OPE, so a
    policy is never evaluated on the logs it was fitted to."""
    ids = logs["conversation_id"].unique()
    rng = np.random.default_rng(seed)
    test = set(rng.choice(ids, size=int(len(ids) * test_share), replace=False))
    is_test = logs["conversation_id"].isin(test)
    return logs[~is_test], logs[is_test]


def arm_subset(logs: pd.DataFrame, with_history: bool) -> pd.DataFrame:
    """Conversations whose sample retrieval matches the arm (history on/off), if recorded."""
    if "history_used" in logs.columns and logs["history_used"].nunique() > 1:
        logs = logs[logs["history_used"] == with_history]
    return logs


def training_subset(logs: pd.DataFrame, with_history: bool) -> pd.DataFrame:
    """The arm's conversations (``arm_subset``) that ended (accepted or abandoned)."""
    return arm_subset(logs[logs["outcome"] != "incomplete"], with_history)


def train_reward_model(path_or_logs, with_history: bool, seed: int = 0) -> RewardModel:
    logs = path_or_logs if isinstance(path_or_logs, pd.DataFrame) else read_logs(path_or_logs)
    X, actions, rewards = design(training_subset(logs, with_history), with_history)
    return RewardModel(feature_names(with_history), seed=seed).fit(X, actions, rewards)
