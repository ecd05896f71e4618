"""History-aware ranking of the samples the assistant offers.

For the tracks that satisfy every hard constraint from the slots:

    score = W_MATCH * match + W_AFFINITY * affinity + W_POPULARITY * popularity/100
            - W_NOVELTY * max cos(track, rejected samples)

- ``match``: the soft attributes (mood, artist seed): the share of them the track meets,
  the artist seed counted as the cosine to that artist's centroid. 1 with none stated.
- ``affinity``: cosine to the listener's profile vector (recent history, recency-decayed).
  A new listener has none, and ranking falls back to popularity within the constraints.
- the novelty term pushes the next sample away from ones the listener rejected.

Constraints are enforced by filtering (``TrackIndex.search(..., allowed=mask)``), so a
constrained search never returns a track that breaks one, and returns k tracks whenever
k match.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional

import numpy as np

from music_domain.attributes import ACTIVITY_GENRES

W_MATCH, W_AFFINITY, W_POPULARITY, W_NOVELTY = 1.0, 1.5, 0.4, 0.8
FEATURE_TOP = 5
# a track seed's likeness: rescaled cosine, same style (subgenre, family), closeness in years (scale
# 10 years), the same artist
SEED_WEIGHTS = (0.35, 0.35, 0.15, 0.15)
SEED_DECADE = 10.0


@dataclass
class Ranked:
    rows: np.ndarray
    scores: np.ndarray
    n_matching: int
    features: Dict[str, float] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0


class HistoryAwareRetriever:
    def __init__(self, arrays, index, profiles=None, pool: int = 150):
        self.arrays = arrays
        self.index = index
        self.vectors = index.vectors
        self.profiles = profiles
        self.pool = pool
        self._artist_centroids: Dict[str, np.ndarray] = {}
        self._artist_rows: Dict[str, np.ndarray] = {}
        self._activity_centroids: Dict[str, Optional[np.ndarray]] = {}
        self._popularity = arrays.columns["popularity"] / 100.0

    def artist_rows(self, artist: str) -> np.ndarray:
        """The catalogue rows of a (catalogue) artist's tracks, cached by name."""
        if artist not in self._artist_rows:
            self._artist_rows[artist] = np.flatnonzero(self.arrays.columns["artist_name"] == artist)
        return self._artist_rows[artist]

    def artist_centroid(self, artist: str) -> Optional[np.ndarray]:
        if artist not in self._artist_centroids:
            rows = self.artist_rows(artist)
            if len(rows) == 0:
                return None
            self._artist_centroids[artist] = _unit(self.vectors[rows].mean(axis=0))
        return self._artist_centroids[artist]

    def activity_centroid(self, activity: Optional[str]) -> Optional[np.ndarray]:
        """The direction of music for ``activity``: the mean vector of the catalogue's tracks of
        Spotify's genre of that name (``ACTIVITY_GENRES``), or None (no such genre, none in the
        catalogue)."""
        if not activity or activity not in ACTIVITY_GENRES:
            return None
        if activity not in self._activity_centroids:
            rows = np.flatnonzero(self.arrays.columns["subgenre"] == ACTIVITY_GENRES[activity])
            self._activity_centroids[activity] = _unit(self.vectors[rows].mean(axis=0)) if len(rows) else None
        return self._activity_centroids[activity]

    def profile(self, user_id: Optional[str]) -> Optional[np.ndarray]:
        return self.profiles.profile(user_id) if (self.profiles is not None and user_id is not None) else None

    def rank(self, slots: Mapping[str, Optional[str]], user_id: Optional[str] = None,
             use_history: bool = True, exclude: Iterable[int] = (), rejected: Iterable[int] = (),
             k: int = 5, allowed: Optional[np.ndarray] = None, seeds: Iterable[int] = ()) -> Ranked:
        """``allowed``: tracks that honour the listener's critiques (music_domain.critiques), applied
        when some matching track honours them (a critique never empties the answer on its own).
        ``seeds``: rows of tracks the listener pointed at ("more like that", a named song): the
        seed direction is their mean vector, with the artist's centroid if one is named."""
        mask = self.arrays.mask(slots)
        if allowed is not None and (mask & allowed).any():
            mask = mask & allowed
        # a track played, named or critiqued is excluded with its other releases (Blinding
        # Lights was offered as "like Blinding Lights", the same song under another track id)
        exclude = self.arrays.same_songs(np.fromiter(exclude, dtype=int))
        if len(exclude):
            mask = mask.copy()
            mask[exclude] = False
        n_matching = int(mask.sum())
        if n_matching == 0:
            return Ranked(np.zeros(0, int), np.zeros(0), 0, empty_features())
        profile = self.profile(user_id) if use_history else None
        seed = self.artist_centroid(slots["artist"]) if slots.get("artist") else None
        seed_rows = [int(r) for r in seeds if 0 <= int(r) < len(self.vectors)]
        track_seed = None
        if seed_rows:
            track_seed = _unit(self.vectors[seed_rows].mean(axis=0))
            seed_query = track_seed if seed is None else _unit(seed + track_seed)
        else:
            seed_query = seed
        pool = self._pool(mask, profile, seed_query)
        # a named artist's and the seeds' artists' own matching tracks are always candidates, and
        # so are the best-known of the seeds' styles
        artists = set(self.arrays.columns["artist_name"][seed_rows])
        if seed is not None:
            artists.add(slots["artist"])
        for a in artists:
            own = self.artist_rows(a)
            pool = np.union1d(pool, own[mask[own]])
        if seed_rows:
            pool = np.union1d(pool, self._same_style(mask, seed_rows))
        activity = self.activity_centroid(slots.get("activity"))
        if activity is not None and profile is not None:
            # their taste, for the activity: by their profile alone a listener's own favourites
            # that fit the study ranges came first, whatever they sound like
            profile = _unit(_unit(profile) + activity)
        if activity is not None and n_matching > self.pool:
            # music for the activity is rarely among the most popular matching tracks, nor among
            # those nearest a listener's taste: the candidates nearest to it (and to both)
            for query in ([activity] if profile is None else [activity, profile]):
                near, _ = self.index.search(query, self.pool, allowed=mask)
                pool = np.union1d(pool, near)
        vecs = self.vectors[pool]
        affinity = vecs @ profile if profile is not None else np.zeros(len(pool), np.float32)
        match = self._match(pool, vecs, slots, seed, activity)
        if track_seed is not None:
            match = 0.5 * match + 0.5 * self._seed_match(pool, vecs, track_seed, seed_rows)
        score = W_MATCH * match + W_AFFINITY * affinity + W_POPULARITY * self._popularity[pool]
        rejected = np.fromiter(rejected, dtype=int)
        if len(rejected):
            score = score - W_NOVELTY * np.clip((vecs @ self.vectors[rejected].T).max(axis=1), 0, None)
        order = np.argsort(-score, kind="stable")
        # one release of each song: the next best is never the same song again
        order = order[self.arrays.first_of_each_song(pool[order])][:k]
        rows = pool[order]
        return Ranked(rows, score[order], n_matching,
                      candidate_features(self.vectors[rows], match[order], affinity[order], n_matching,
                                         profile is not None))

    def _pool(self, mask: np.ndarray, profile, seed) -> np.ndarray:
        # The most popular matching tracks, plus the nearest to the profile/artist seed.
        rows = np.flatnonzero(mask)
        if len(rows) > self.pool:
            pop = self._popularity[rows]
            rows_pop = rows[np.argpartition(-pop, self.pool - 1)[:self.pool]]
        else:
            rows_pop = rows
        query = None
        if profile is not None and seed is not None:
            query = profile + seed
        elif profile is not None or seed is not None:
            query = profile if profile is not None else seed
        if query is None or len(rows) <= self.pool:
            return rows_pop
        near, _ = self.index.search(_unit(query), self.pool, allowed=mask)
        return np.union1d(rows_pop, near)

    def _seed_match(self, pool, vecs, track_seed, seed_rows) -> np.ndarray:
        """How like the tracks the listener pointed at each candidate is (0-1): the cosine to their
        direction rescaled over the pool (the pool's median 0, identical 1), their style (the same
        subgenre 1, only the same genre family 0.5), their decade and their artists. The raw
        cosine told the pool apart too little (0.6-0.97), so popularity outweighed it: "something
        like Take Five" offered Joji and Justin Bieber next to Miles Davis, "like Bohemian
        Rhapsody" The Weeknd."""
        sim = _rescaled(vecs @ track_seed)
        genre, sub = self.arrays.columns["genre"], self.arrays.columns["subgenre"]
        same_style = np.where(np.isin(sub[pool], sub[seed_rows]), 1.0,
                              np.where(np.isin(genre[pool], genre[seed_rows]), 0.5, 0.0))
        years = self.arrays.columns["year"]
        seed_years = years[seed_rows][~np.isnan(years[seed_rows])]
        if len(seed_years):
            gap = np.abs(years[pool] - float(seed_years.mean()))
            era = np.where(np.isnan(gap), 0.5, np.exp(-np.nan_to_num(gap) / SEED_DECADE))
        else:
            era = np.full(len(pool), 0.5)
        artist = self.arrays.columns["artist_name"]
        same_artist = np.isin(artist[pool], artist[seed_rows]).astype(np.float32)
        w = SEED_WEIGHTS
        return (w[0] * sim + w[1] * same_style + w[2] * era + w[3] * same_artist).astype(np.float32)

    def _same_style(self, mask: np.ndarray, seed_rows, n: int = 50) -> np.ndarray:
        """The ``n`` best-known tracks within ``mask`` of the seeds' subgenres: the track vectors'
        nearest neighbours of Take Five are Carnatic and Mozart, and the most popular tracks pop,
        so no other jazz was a candidate."""
        sub = self.arrays.columns["subgenre"]
        rows = np.flatnonzero(mask & np.isin(sub, sub[seed_rows]))
        if len(rows) > n:
            rows = rows[np.argpartition(-self._popularity[rows], n - 1)[:n]]
        return rows

    def _match(self, pool, vecs, slots, seed, activity=None) -> np.ndarray:
        parts = []
        if slots.get("mood"):
            parts.append(self.arrays._one("mood", slots["mood"])[pool].astype(np.float32))
        if activity is not None:  # how like music for the activity (``activity_centroid``)
            parts.append(_rescaled(vecs @ activity))
        if seed is not None:
            same = (self.arrays.columns["artist_name"][pool] == slots["artist"]).astype(np.float32)
            parts.append(np.clip(0.5 * (vecs @ seed) + 0.5 * same, 0, 1))
        if not parts:
            return np.ones(len(pool), np.float32)
        return np.mean(parts, axis=0)


def _unit(v: np.ndarray) -> np.ndarray:
    """``v`` scaled to length 1 (a zero vector stays zero)."""
    return v / max(np.linalg.norm(v), 1e-9)


def _rescaled(cos: np.ndarray) -> np.ndarray:
    """Cosines rescaled over a pool: its median 0, identical 1. Within a pool the raw cosine
    varies little (0.6-0.97), so popularity would outweigh it."""
    floor = float(np.median(cos))
    return np.clip((cos - floor) / max(1.0 - floor, 1e-6), 0.0, 1.0).astype(np.float32)


def empty_features() -> Dict[str, float]:
    return {"log_candidates": 0.0, "match_quality": 0.0, "affinity_top": 0.0, "candidate_spread": 0.0,
            "has_profile": 0.0}


def candidate_features(vecs: np.ndarray, match: np.ndarray, affinity: np.ndarray, n_matching: int,
                       has_profile: bool) -> Dict[str, float]:
    """What the prompt policy sees of the current candidates."""
    top = min(FEATURE_TOP, len(vecs))
    if top == 0:
        return empty_features()
    v = vecs[:top]
    if top > 1:
        sims = v @ v.T
        spread = 1.0 - float((sims.sum() - np.trace(sims)) / (top * (top - 1)))
    else:
        spread = 0.0
    return {"log_candidates": float(np.log1p(n_matching)), "match_quality": float(match[:top].mean()),
            "affinity_top": float(affinity[:top].mean()) if has_profile else 0.0,
            "candidate_spread": spread, "has_profile": float(has_profile)}
