"""Hard constraints from dialogue slots, applied to a catalogue as boolean masks."""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np
import pandas as pd

from music_domain.attributes import ACTIVITY_RANGES, ENERGY_SPLIT, MOOD_RANGES, era_year_range

# Slots that filter the catalogue. ``artist`` is a soft seed and ``mood`` a soft preference.
HARD_CONSTRAINTS = ("genre", "subgenre", "energy", "era", "activity")


class CatalogArrays:
    """Column arrays of a catalogue, cached for fast repeated masking."""

    def __init__(self, catalog: pd.DataFrame):
        self.catalog = catalog
        self.n = len(catalog)
        self.columns: Dict[str, np.ndarray] = {
            c: catalog[c].to_numpy() for c in catalog.columns
            if c in ("genre", "subgenre", "era", "artist_name", "year")
        }
        for c in ("energy", "valence", "danceability", "acousticness", "tempo", "speechiness",
                  "instrumentalness", "popularity"):
            self.columns[c] = catalog[c].to_numpy(dtype=np.float32)
        self._cache: Dict[tuple, np.ndarray] = {}

    def _one(self, attribute: str, value: str) -> np.ndarray:
        key = (attribute, value)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        c = self.columns
        if attribute in ("genre", "subgenre", "era"):
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
        """Tracks that satisfy every filled hard constraint in ``slots``."""
        mask = np.ones(self.n, dtype=bool)
        for attribute in attributes:
            value = slots.get(attribute)
            if value:
                mask = mask & self._one(attribute, value)
        return mask

    def matches(self, index: int, attribute: str, value: str) -> bool:
        """Does track ``index`` satisfy ``attribute == value``?"""
        return bool(self._one(attribute, value)[index])

    def relaxation(self, slots: Mapping[str, Optional[str]]) -> Optional[str]:
        """The one filled constraint whose removal gives the most matching tracks."""
        best, best_n = None, 0
        for attribute in HARD_CONSTRAINTS:
            if slots.get(attribute):
                n = int(self.mask({**slots, attribute: None}).sum())
                if n > best_n:
                    best, best_n = attribute, n
        return best
