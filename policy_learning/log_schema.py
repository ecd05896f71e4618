"""The log schema: one row per prompt decision, written by the simulator
(``simulator.fast_path.conversations_to_frame``) and by the tracker-store export
(``policy_learning.log_export``) through ``decision_rows`` / ``to_frame``, and read back by
every learner and estimator through ``read_logs`` / ``validate_logs``.

A decision record (what both writers collect while a conversation runs) is a dict with
``turn``, ``prompt``, ``propensity``, ``probabilities``, ``features``, ``policy``,
``policy_version``, ``empathy_score``, ``closeness_band``, ``reply`` (the reply's meaning as
``UserMeaning.to_dict()``, or None when the conversation was cut off), ``elicited``,
``sample_row`` and ``accepted``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from music_domain.dialogue_state import ALL_FEATURES
from music_domain.prompts import N_PROMPTS, PROMPT_NAMES

PROBABILITY_TOLERANCE = 1e-4  # stored as float32


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # pandas dtype; "vector" columns hold float32 arrays
    required: bool  # needed to learn from or evaluate the logs
    meaning: str


COLUMNS = (
    Column("conversation_id", "object", True, "one conversation (one session of a sender)"),
    Column("user_hash", "object", False, "salted hash of the listener (no raw ids in logs)"),
    Column("turn", "int64", True, "the prompt's position in the conversation, from 1"),
    Column("policy", "object", False, "the logging policy's name"),
    Column("policy_version", "object", True, "the logging policy's version"),
    Column("history_used", "bool", False, "sample retrieval used the listener's history"),
    Column("prompt", "object", True, "the prompt chosen (music_domain.prompts.PROMPT_NAMES)"),
    Column("propensity", "float64", True, "the logging policy's probability of that prompt"),
    Column("probabilities", "vector", True, f"the logging policy's probabilities of all {N_PROMPTS} prompts"),
    Column("features", "vector", True, f"the {len(ALL_FEATURES)} dialogue-state features it saw"),
    Column("empathy_score", "float64", False, "goal closeness when it was asked (music_domain.empathy)"),
    Column("closeness_band", "object", False, "close / neutral / frustrated"),
    Column("reply_intent", "object", False, "the listener's reply"),
    Column("reply_sentiment", "float64", False, "its graded sentiment"),
    Column("reply_meaning", "object", False, "the reply's meaning, JSON"),
    Column("elicited", "object", False, "new attribute values the reply gave, JSON"),
    Column("outcome", "object", True, "accepted / abandoned / incomplete"),
    Column("success", "bool", True, "the conversation ended with an accepted station"),
    Column("n_turns", "int64", False, "listener messages in the conversation"),
    Column("reward", "int64", True, "prompt usefulness (policy_learning.rewards)"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS = tuple(c.name for c in COLUMNS if c.required)


class LogError(ValueError):
    """Logged decisions that cannot be learned from or evaluated, with the reason."""


def decision_rows(conversation_id: str, user_hash: str, history_used: bool, decisions: Sequence[Mapping[str, Any]],
                  outcome: str, n_turns: int, rewards: Iterable[int]) -> List[Dict[str, Any]]:
    """The rows of one conversation's decisions (records as in the module docstring)."""
    rows = []
    for d, r in zip(decisions, rewards):
        reply = d.get("reply") or {}
        rows.append({
            "conversation_id": conversation_id, "user_hash": user_hash, "turn": int(d["turn"]),
            "policy": str(d["policy"]), "policy_version": str(d["policy_version"]),
            "history_used": bool(history_used), "prompt": d["prompt"], "propensity": float(d["propensity"]),
            "probabilities": np.asarray(d["probabilities"], dtype=np.float32),
            "features": np.asarray(d["features"], dtype=np.float32),
            "empathy_score": float(d.get("empathy_score", float("nan"))), "closeness_band": d.get("closeness_band"),
            "reply_intent": reply.get("intent"), "reply_sentiment": float(reply.get("sentiment", 0.0)),
            "reply_meaning": json.dumps(reply, sort_keys=True),
            "elicited": json.dumps(d.get("elicited") or {}, sort_keys=True),
            "outcome": outcome, "success": outcome == "accepted", "n_turns": int(n_turns), "reward": int(r),
        })
    return rows


def to_frame(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    """Rows -> a DataFrame with the schema's columns, in its order and with its types."""
    frame = pd.DataFrame(rows, columns=list(COLUMN_NAMES))
    for c in COLUMNS:
        if c.dtype != "vector":
            frame[c.name] = frame[c.name].astype(c.dtype)
    return frame


def decision_problem(prompt: str, propensity: float, probabilities: Sequence[float]) -> Optional[str]:
    """Why one logged decision cannot be used for off-policy work, or None."""
    if prompt not in PROMPT_NAMES:
        return f"unknown prompt {prompt!r}"
    if not isinstance(propensity, (int, float)) or math.isnan(propensity) or not 0.0 < propensity <= 1.0:
        return f"propensity {propensity} outside (0, 1]"
    p = np.asarray(probabilities, dtype=float)
    if p.shape != (N_PROMPTS,):
        return f"probabilities must be {N_PROMPTS} numbers, got shape {p.shape}"
    if not np.isfinite(p).all():
        return "NaN or infinite probabilities"
    if (p < 0).any() or abs(p.sum() - 1.0) > PROBABILITY_TOLERANCE:
        return f"probabilities are not a distribution (sum {p.sum():.6f})"
    logged = p[PROMPT_NAMES.index(prompt)]
    if abs(logged - propensity) > PROBABILITY_TOLERANCE:
        return f"propensity {propensity:.6f} is not the probability of the logged prompt {prompt!r} ({logged:.6f})"
    return None


def _conversations(logs: pd.DataFrame, bad) -> str:
    ids = pd.unique(logs.loc[bad, "conversation_id"])
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return f"conversation(s) {', '.join(map(str, ids[:5]))}{more}"


def validate_logs(logs: pd.DataFrame, source: str = "logs") -> pd.DataFrame:
    """The logs, or a ``LogError`` naming the problem and the conversations that have it."""
    missing = [c for c in REQUIRED_COLUMNS if c not in logs.columns]
    if missing:
        raise LogError(f"{source}: missing column(s) {', '.join(missing)}")
    if logs.empty:
        raise LogError(f"{source}: no logged decisions")
    unknown = ~logs["prompt"].isin(PROMPT_NAMES)
    if unknown.any():
        raise LogError(f"{source}: unknown prompt(s) {sorted(logs.loc[unknown, 'prompt'].unique())[:5]} "
                       f"in {_conversations(logs, unknown)}")
    prop = pd.to_numeric(logs["propensity"], errors="coerce")
    bad = prop.isna() | (prop <= 0) | (prop > 1)
    if bad.any():
        raise LogError(f"{source}: {int(bad.sum())} decision(s) with a missing, zero or out-of-range "
                       f"propensity in {_conversations(logs, bad)}")
    for column in ("success", "policy_version", "outcome"):
        bad = logs[column].isna()
        if bad.any():
            raise LogError(f"{source}: {int(bad.sum())} decision(s) without {column} in {_conversations(logs, bad)}")
    probs = _vectors(logs, "probabilities", N_PROMPTS, source)
    bad = ~np.isfinite(probs).all(axis=1)
    if bad.any():
        raise LogError(f"{source}: {int(bad.sum())} decision(s) with NaN or infinite probabilities in "
                       f"{_conversations(logs, bad)}")
    bad = (probs < 0).any(axis=1) | (np.abs(probs.sum(axis=1) - 1.0) > PROBABILITY_TOLERANCE)
    if bad.any():
        raise LogError(f"{source}: {int(bad.sum())} decision(s) whose probabilities do not sum to 1 in "
                       f"{_conversations(logs, bad)}")
    logged = probs[np.arange(len(logs)), logs["prompt"].map(PROMPT_NAMES.index).to_numpy()]
    bad = np.abs(logged - prop.to_numpy()) > PROBABILITY_TOLERANCE
    if bad.any():
        raise LogError(f"{source}: {int(bad.sum())} decision(s) whose propensity is not the logged policy's "
                       f"probability of the logged prompt in {_conversations(logs, bad)}")
    _vectors(logs, "features", len(ALL_FEATURES), source)
    return logs


def _vectors(logs: pd.DataFrame, column: str, width: int, source: str) -> np.ndarray:
    values = logs[column].to_numpy()
    bad = np.array([_shape(v) != (width,) for v in values], dtype=bool)
    if bad.any():
        raise LogError(f"{source}: {int(bad.sum())} decision(s) whose {column} are not {width} numbers in "
                       f"{_conversations(logs, bad)}")
    try:
        return np.stack(values).astype(float)
    except (TypeError, ValueError) as e:
        raise LogError(f"{source}: non-numeric {column} ({e})") from e


def _shape(value) -> tuple:
    try:
        return np.shape(value)
    except (TypeError, ValueError):  # ragged
        return ()


def read_logs(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise LogError(f"no logs at {path}")
    try:
        logs = pd.read_parquet(path)
    except Exception as e:
        raise LogError(f"{path}: not a readable Parquet file ({e})") from e
    return validate_logs(logs, str(path))
