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

The shipped histories are **generated**: each simulated listener has a taste profile
(favourite catalogue genres, an energy and an era preference), and plays are drawn
from the catalogue with probability rising with how well a track fits that taste.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np
import pandas as pd

from music_domain.attributes import ENERGY_SPLIT

HISTORY_COLUMNS = {"user_id": "object", "track_id": "object", "timestamp": "int64",
                   "play_count": "int32", "skipped": "bool"}


class HistoryError(ValueError):
    pass


@dataclass
class TasteProfile:
    user_id: str
    subgenres: List[str]
    subgenre_weights: List[float]
    energy: str  # "laid_back" | "upbeat"
    era: str
    artists: List[str] = field(default_factory=list)


def draw_taste(rng: np.random.Generator, catalog: pd.DataFrame, user_id: str) -> TasteProfile:
    shares = catalog["subgenre"].value_counts(normalize=True)
    # Tastes lean towards common genres but with a flattened distribution.
    p = shares.to_numpy() ** 0.6
    p /= p.sum()
    k = int(rng.integers(1, 4))
    subs = list(rng.choice(shares.index.to_numpy(), size=k, replace=False, p=p))
    w = rng.dirichlet(np.ones(k) * 2.0)
    energy_share = float((catalog["energy"] >= ENERGY_SPLIT).mean())
    energy = "upbeat" if rng.random() < energy_share else "laid_back"
    era = str(rng.choice(catalog["era"].to_numpy()))
    return TasteProfile(user_id, subs, list(w), energy, era)


def taste_scores(catalog_arrays, taste: TasteProfile) -> np.ndarray:
    """Log-affinity of every track for a taste (used to draw plays and goals)."""
    c = catalog_arrays.columns
    score = np.full(catalog_arrays.n, -4.0, dtype=np.float64)
    for sub, w in zip(taste.subgenres, taste.subgenre_weights):
        score = np.where(c["subgenre"] == sub, np.maximum(score, 1.0 + np.log(w + 1e-9) + 2.0), score)
    upbeat = c["energy"] >= ENERGY_SPLIT
    score += np.where(upbeat == (taste.energy == "upbeat"), 1.0, -0.5)
    score += np.where(c["era"] == taste.era, 0.7, 0.0)
    score += c["popularity"] / 100.0
    return score


def generate_histories(catalog: pd.DataFrame, n_users: int = 2000, mean_plays: int = 40,
                       seed: int = 0):
    """Generated histories and the taste profiles behind them."""
    from music_domain.search import CatalogArrays

    rng = np.random.default_rng(seed)
    arrays = CatalogArrays(catalog)
    ids = catalog["track_id"].to_numpy()
    rows, tastes = [], {}
    t0 = 1_700_000_000
    for u in range(n_users):
        user_id = f"user-{u:05d}"
        taste = draw_taste(rng, catalog, user_id)
        score = taste_scores(arrays, taste)
        p = np.exp(score - score.max())
        p /= p.sum()
        n = max(3, int(rng.poisson(mean_plays)))
        picks = rng.choice(arrays.n, size=n, replace=True, p=p)
        ts = t0 + np.sort(rng.integers(0, 90 * 86400, size=n))
        # A play of a track far from the taste is likely skipped.
        skip_p = 1.0 / (1.0 + np.exp(score[picks] - 1.0))
        skipped = rng.random(n) < skip_p * 0.6
        counts = 1 + rng.poisson(0.5, size=n)
        top_artists = pd.Series(catalog["artist_name"].to_numpy()[picks]).value_counts().index[:3]
        taste.artists = list(top_artists)
        tastes[user_id] = taste
        rows.append(pd.DataFrame({"user_id": user_id, "track_id": ids[picks], "timestamp": ts,
                                  "play_count": counts.astype("int32"), "skipped": skipped}))
    return pd.concat(rows, ignore_index=True), tastes


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
        for user, g in histories.groupby("user_id", sort=False):
            g = g.tail(max_plays)
            rows = g["track_id"].map(track_row).dropna().astype(int).to_numpy()
            if len(rows) == 0:
                continue
            keep = g["track_id"].isin(track_row).to_numpy()
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
