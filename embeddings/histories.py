"""Listening histories: schema, generation from taste profiles, and user profile vectors.

Parquet schema, one row a play:

===========  =========  ===============================================
column       type       meaning
===========  =========  ===============================================
user_id      str        the listener
track_id     str        a catalogue ``track_id``
timestamp    int64      seconds since the epoch
play_count   int32      plays in this session (>= 1)
skipped      bool       skipped before the end (a weak negative)
===========  =========  ===============================================

The shipped histories are **real sessions** (``music_domain.real_catalog``): each of the 471
TidyTuesday playlists and each CPCD liked set is one listener. The first tracks of a session are
its plays (in playlist order, a few minutes apart); the last ``GOAL_SHARE`` of them are held back
as that listener's **goals**: tracks the same person chose, which the simulated listener looks
for (``simulator.listener``). History-aware retrieval thus meets real taste structure.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

HISTORY_COLUMNS = {"user_id": "object", "track_id": "object", "timestamp": "int64",
                   "play_count": "int32", "skipped": "bool"}


class HistoryError(ValueError):
    pass


GOAL_SHARE = 0.2
PLAY_GAP_S = 210  # about one track


def session_histories(sessions: pd.DataFrame, catalog: pd.DataFrame, goal_share: float = GOAL_SHARE,
                      min_plays: int = 2) -> Tuple[pd.DataFrame, Dict[str, List[str]]]:
    """(plays, goals) from real sessions (``session_id, position, track_id``): per session, the last
    ``goal_share`` of its catalogue tracks (at least one) are goals, the rest plays."""
    known = set(catalog["track_id"])
    s = sessions[sessions["track_id"].isin(known)].sort_values(["session_id", "position"], kind="stable")
    s = s.drop_duplicates(["session_id", "track_id"])
    rows, goals = [], {}
    t0 = 1_700_000_000
    for k, (sid, g) in enumerate(s.groupby("session_id", sort=True)):
        ids = g["track_id"].to_numpy()
        n_goal = max(1, int(round(goal_share * len(ids))))
        if len(ids) - n_goal < min_plays:
            continue
        plays, held = ids[:-n_goal], ids[-n_goal:]
        goals[str(sid)] = [str(t) for t in held]
        ts = t0 + k * 86_400 + PLAY_GAP_S * np.arange(len(plays), dtype=np.int64)
        rows.append(pd.DataFrame({"user_id": str(sid), "track_id": plays, "timestamp": ts,
                                  "play_count": np.ones(len(plays), "int32"), "skipped": False}))
    if not rows:
        raise HistoryError("no session has enough catalogue tracks to make a listening history")
    return pd.concat(rows, ignore_index=True).astype(HISTORY_COLUMNS), goals


def validate_histories(df: pd.DataFrame, track_ids: Optional[set] = None) -> pd.DataFrame:
    missing = [c for c in HISTORY_COLUMNS if c not in df.columns]
    if missing:
        raise HistoryError(f"listening history: missing column(s) {', '.join(missing)}")
    df = df.astype(HISTORY_COLUMNS)
    if track_ids is not None:
        unknown = ~df["track_id"].isin(track_ids)
        if unknown.any():
            df = df[~unknown]  # plays of tracks no longer in the catalogue carry no signal
    return df.sort_values(["user_id", "timestamp"]).reset_index(drop=True)


def split_last_plays(df: pd.DataFrame, n_last: int = 5):
    """(train, held_out): the last ``n_last`` plays of each user are held out."""
    rank = df.groupby("user_id").cumcount(ascending=False)
    return df[rank >= n_last].reset_index(drop=True), df[rank < n_last].reset_index(drop=True)


class ProfileStore:
    """User profile vectors from recent history, with exponential recency decay.

    profile(u) = normalise( sum_i w_i * v(track_i) ), w_i = play_count_i * 0.5 ** (age_i / half_life)
    with skipped plays weighted -0.3. Unknown users and empty histories have no profile
    (``None``), and retrieval then falls back to popularity within the constraints.
    """

    def __init__(self, histories: pd.DataFrame, track_row: Dict[str, int], vectors: np.ndarray,
                 half_life_days: float = 30.0, max_plays: int = 200):
        self.vectors = vectors
        self._profiles: Dict[str, np.ndarray] = {}
        self._played: Dict[str, np.ndarray] = {}
        self.half_life = half_life_days * 86400.0
        rows_of = histories["track_id"].map(track_row)  # once: a dict of 100,000+ ids is slow to map per user
        histories = histories.assign(_row=rows_of.to_numpy())
        for user, g in histories.groupby("user_id", sort=False):
            g = g.tail(max_plays)
            keep = g["_row"].notna().to_numpy()
            if not keep.any():
                continue
            rows = g["_row"].to_numpy()[keep].astype(int)
            age = float(g["timestamp"].max()) - g["timestamp"].to_numpy()[keep].astype(float)
            w = g["play_count"].to_numpy()[keep] * 0.5 ** (age / self.half_life)
            w = np.where(g["skipped"].to_numpy()[keep], -0.3 * w, w)
            v = (w[:, None] * vectors[rows]).sum(axis=0)
            norm = np.linalg.norm(v)
            if norm > 0:
                self._profiles[str(user)] = (v / norm).astype(np.float32)
                self._played[str(user)] = rows

    def profile(self, user_id: Optional[str]) -> Optional[np.ndarray]:
        return self._profiles.get(str(user_id)) if user_id is not None else None

    def played(self, user_id: Optional[str]) -> np.ndarray:
        return self._played.get(str(user_id), np.zeros(0, dtype=int))

    def __contains__(self, user_id) -> bool:
        return str(user_id) in self._profiles

    def __len__(self) -> int:
        return len(self._profiles)
