"""Hard constraints from dialogue slots, applied to a catalogue as boolean masks.

Tracks that are not music (``content`` "spoken" or "sound": comedy, white noise, rain) never
match unless the listener asked for them by name: a non-music subgenre ("white noise",
"comedy") or an artist whose tracks they are. A track of unknown year never matches an era.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from music_domain.attributes import ACTIVITY_RANGES, ENERGY_SPLIT, MOOD_RANGES, NON_MUSIC_SUBGENRES, era_year_range

# Slots that filter the catalogue. ``artist`` is a soft seed and ``mood`` a soft preference.
HARD_CONSTRAINTS = ("genre", "subgenre", "energy", "era", "activity")


class CatalogArrays:
    """Column arrays of a catalogue, cached for fast repeated masking."""

    def __init__(self, catalog: pd.DataFrame):
        self.catalog = catalog
        self.n = len(catalog)
        self.columns: Dict[str, np.ndarray] = {
            c: catalog[c].to_numpy() for c in catalog.columns
            if c in ("genre", "subgenre", "era", "artist_name")
        }
        self.columns["year"] = catalog["year"].to_numpy(dtype=np.float64)  # NaN: unknown
        for c in ("energy", "valence", "danceability", "acousticness", "tempo", "speechiness",
                  "instrumentalness", "popularity"):
            self.columns[c] = catalog[c].to_numpy(dtype=np.float32)
        content = catalog["content"].to_numpy() if "content" in catalog else np.full(self.n, "music")
        self.music = content == "music"
        self.columns["content"] = content
        self._cache: Dict[tuple, np.ndarray] = {}
        self._song_ids: Optional[np.ndarray] = None

    @property
    def song_ids(self) -> np.ndarray:
        """One id per song: tracks that are the same song by the same artist under other track
        ids (a remaster, the single and its album, a live recording, another arrangement:
        ``real_catalog.work_key``) share it; every other track has its own. Computed on first use.
        A "too fast" after "Give Me Light - Piano Solo" played "Give Me Light" (`make shell`):
        the same song, which the listener had just critiqued."""
        if self._song_ids is None:
            from music_domain.real_catalog import work_key

            keys = [work_key(a, t) for a, t in zip(self.catalog["artist_name"], self.catalog["track_name"])]
            keys = [k if k is not None else f"#{i}" for i, k in enumerate(keys)]
            self._song_ids = pd.factorize(pd.Series(keys))[0].astype(np.int64)
        return self._song_ids

    def same_songs(self, rows) -> np.ndarray:
        """The rows of every track that is the same song as one of ``rows`` (``rows`` included)."""
        rows = np.asarray(list(rows), dtype=int)
        if len(rows) == 0:
            return rows
        return np.flatnonzero(np.isin(self.song_ids, self.song_ids[rows]))

    def first_of_each_song(self, rows) -> np.ndarray:
        """The positions in ``rows`` of each song's first release there: ``rows`` without a second
        release of a song already in them is ``rows[first_of_each_song(rows)]``."""
        rows = np.asarray(list(rows), dtype=int)
        _, first = np.unique(self.song_ids[rows], return_index=True)
        return np.sort(first)

    def non_music_asked(self, slots: Mapping[str, Optional[str]]) -> bool:
        """Did the listener name non-music: a non-music subgenre, or an artist of non-music tracks?"""
        if slots.get("subgenre") in NON_MUSIC_SUBGENRES:
            return True
        artist = slots.get("artist")
        return bool(artist) and not self.music[self._one("artist", artist)].all()

    def _one(self, attribute: str, value: str) -> np.ndarray:
        key = (attribute, value)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.columns
        if attribute == "era" and value == "unknown":  # no year is from any era
            mask = np.zeros(self.n, dtype=bool)
        elif attribute in ("genre", "subgenre", "era"):
            mask = c[attribute] == value
            if attribute == "era" and not mask.any():
                lo, hi = era_year_range(value)
                mask = (c["year"] >= lo) & (c["year"] <= hi)
        elif attribute == "energy":
            mask = c["energy"] >= ENERGY_SPLIT if value == "upbeat" else c["energy"] < ENERGY_SPLIT
        elif attribute == "activity":
            mask = np.ones(self.n, dtype=bool)
            for feat, (lo, hi) in ACTIVITY_RANGES[value].items():
                mask &= (c[feat] >= lo) & (c[feat] <= hi)
        elif attribute == "mood":
            feat, lo, hi = MOOD_RANGES[value]
            mask = (c[feat] >= lo) & (c[feat] <= hi)
        elif attribute == "artist":
            mask = c["artist_name"] == value
        else:
            raise KeyError(f"unknown attribute {attribute!r}")
        self._cache[key] = mask
        return mask

    def mask(self, slots: Mapping[str, Optional[str]], attributes=HARD_CONSTRAINTS) -> np.ndarray:
        """Tracks that satisfy every filled hard constraint in ``slots`` (music only, unless
        non-music was asked for by name)."""
        mask = np.ones(self.n, dtype=bool) if self.non_music_asked(slots) else self.music.copy()
        for attribute in attributes:
            value = slots.get(attribute)
            if value:
                mask = mask & self._one(attribute, value)
        return mask

    def matches(self, index: int, attribute: str, value: str) -> bool:
        """Does track ``index`` satisfy ``attribute == value``?"""
        return bool(self._one(attribute, value)[index])

    def unknown_year(self, slots: Mapping[str, Optional[str]]) -> int:
        """With an era asked for: how many tracks meet every other constraint but have no known
        year (so cannot be said to be from that era)."""
        if not slots.get("era"):
            return 0
        return int((self.mask({**slots, "era": None}) & (self.columns["era"] == "unknown")).sum())

    def relaxation(self, slots: Mapping[str, Optional[str]], keep: Sequence[str] = ()) -> Optional[str]:
        """The one filled constraint whose removal gives the most matching tracks, other than
        those in ``keep`` (the listener declined to drop them)."""
        best, best_n = None, 0
        for attribute in HARD_CONSTRAINTS:
            if slots.get(attribute) and attribute not in keep:
                n = int(self.mask({**slots, attribute: None}).sum())
                if n > best_n:
                    best, best_n = attribute, n
        return best
