"""Training the learned prompt policies from logged Parquet decisions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from custom_policies.prompt_policy import PROMPT_INDEX
from custom_policies.reward_model import RewardModel
from music_domain.dialogue_state import ALL_FEATURES, BASE_FEATURES, feature_names

REQUIRED_LOG_COLUMNS = ("conversation_id", "turn", "prompt", "propensity", "features", "reward", "outcome")


class LogError(ValueError):
    """Logged decisions that cannot be learned from or evaluated, with the reason."""


def read_logs(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise LogError(f"no logs at {path}")
    try:
        logs = pd.read_parquet(path)
    except Exception as e:
        raise LogError(f"{path}: not a readable Parquet file ({e})") from e
    return validate_logs(logs, str(path))


def validate_logs(logs: pd.DataFrame, source: str = "logs") -> pd.DataFrame:
    missing = [c for c in REQUIRED_LOG_COLUMNS if c not in logs.columns]
    if missing:
        raise LogError(f"{source}: missing column(s) {', '.join(missing)}")
    if logs.empty:
        raise LogError(f"{source}: no logged decisions")
    unknown = ~logs["prompt"].isin(PROMPT_INDEX)
    if unknown.any():
        raise LogError(f"{source}: unknown prompt(s) {sorted(logs.loc[unknown, 'prompt'].unique())[:5]}")
    prop = pd.to_numeric(logs["propensity"], errors="coerce")
    bad = prop.isna() | (prop <= 0) | (prop > 1)
    if bad.any():
        ids = logs.loc[bad, "conversation_id"].unique()[:5]
        raise LogError(f"{source}: {int(bad.sum())} decision(s) with a missing, zero or out-of-range "
                       f"propensity (conversations {', '.join(map(str, ids))})")
    return logs


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


def training_subset(logs: pd.DataFrame, with_history: bool) -> pd.DataFrame:
    """Conversations whose sample retrieval matches the arm (history on/off), if recorded."""
    logs = logs[logs["outcome"] != "incomplete"]
    if "history_used" in logs.columns and logs["history_used"].nunique() > 1:
        logs = logs[logs["history_used"] == with_history]
    return logs


def train_reward_model(path_or_logs, with_history: bool, seed: int = 0) -> RewardModel:
    logs = path_or_logs if isinstance(path_or_logs, pd.DataFrame) else read_logs(path_or_logs)
    X, actions, rewards = design(training_subset(logs, with_history), with_history)
    return RewardModel(feature_names(with_history), seed=seed).fit(X, actions, rewards)
