"""Load and validate a track catalogue (CSV or Parquet).

Schema (one row a track), following the common Spotify-style export:

================  =======  ====================================================
column            type     notes
================  =======  ====================================================
track_id          str      unique, non-empty
track_name        str      (alias: ``name``)
artist_name       str      (alias: ``artist``)
genre             str      a genre family or a catalogue genre; see below
subgenre          str      optional; if absent, ``genre`` is taken as the
                           subgenre and its family from ``GENRE_FAMILIES``
year              int      release year (alias: ``release_year``), 1900-2100
popularity        number   0-100
energy            number   0-1
valence           number   0-1
danceability      number   0-1
acousticness      number   0-1
tempo             number   BPM, 0-300
speechiness, instrumentalness, liveness, loudness, preview_url: optional
================  =======  ====================================================

A malformed file raises ``CatalogError`` naming the bad column or the first bad rows.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pandas as pd

from music_domain.attributes import SUBGENRE_TO_FAMILY, era_of_year, energy_of

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CATALOG = PROJECT_ROOT / "data" / "catalog" / "spotify_tracks_sample.csv"
CATALOG_ENV = "MUSIC_CATALOG"

REQUIRED = ("track_id", "track_name", "artist_name", "genre", "year", "popularity",
            "energy", "valence", "danceability", "acousticness", "tempo")
ALIASES = {"name": "track_name", "artist": "artist_name", "release_year": "year", "id": "track_id"}
RANGES = {
    "year": (1900, 2100), "popularity": (0, 100), "energy": (0, 1), "valence": (0, 1),
    "danceability": (0, 1), "acousticness": (0, 1), "tempo": (0, 300),
    "speechiness": (0, 1), "instrumentalness": (0, 1), "liveness": (0, 1),
}
OPTIONAL_DEFAULTS = {"speechiness": 0.05, "instrumentalness": 0.0, "liveness": 0.15}


class CatalogError(ValueError):
    """A catalogue file that cannot be served, with the reason."""


def _rows(mask: pd.Series, limit: int = 5) -> str:
    # +2: one for the header line, one because files count from 1.
    bad = (np.flatnonzero(mask.to_numpy()) + 2)[:limit]
    return ", ".join(str(r) for r in bad)


def validate_catalog(df: pd.DataFrame, source: str = "catalogue") -> pd.DataFrame:
    """Check and normalise a catalogue frame; returns a new frame with derived columns.

    Derived columns: ``era`` (decade), ``energy_level`` (laid_back/upbeat), and
    ``genre``/``subgenre`` as family/catalogue genre.
    """
    df = df.rename(columns={k: v for k, v in ALIASES.items() if k in df.columns and v not in df.columns})
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise CatalogError(f"{source}: missing required column(s) {', '.join(missing)}; "
                           f"expected {', '.join(REQUIRED)}")
    if df.empty:
        raise CatalogError(f"{source}: no tracks")
    df = df.copy()
    for col, default in OPTIONAL_DEFAULTS.items():
        if col not in df.columns:
            df[col] = default
    for col in ("track_id", "track_name", "artist_name", "genre"):
        blank = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if blank.any():
            raise CatalogError(f"{source}: column '{col}' is empty in row(s) {_rows(blank)}")
        df[col] = df[col].astype(str).str.strip()
    for col, (lo, hi) in RANGES.items():
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() | (values < lo) | (values > hi)
        if bad.any():
            raise CatalogError(f"{source}: column '{col}' must be a number in [{lo}, {hi}]; "
                               f"bad value(s) in row(s) {_rows(bad)}")
        df[col] = values.astype(float)
    df["year"] = df["year"].astype(int)
    dup = df["track_id"].duplicated()
    if dup.any():
        raise CatalogError(f"{source}: duplicate track_id in row(s) {_rows(dup)}")
    if "subgenre" not in df.columns or df["subgenre"].isna().all():
        df["subgenre"] = df["genre"]
        df["genre"] = df["subgenre"].map(lambda g: SUBGENRE_TO_FAMILY.get(g, g))
    else:
        df["subgenre"] = df["subgenre"].fillna(df["genre"]).astype(str)
    df["era"] = df["year"].map(era_of_year)
    df["energy_level"] = df["energy"].map(energy_of)
    if "preview_url" not in df.columns:
        # The Spotify id gives a stable track page; real 30 s previews need the Web API.
        df["preview_url"] = "https://p.scdn.co/mp3-preview/" + df["track_id"]
    return df.reset_index(drop=True)


def load_catalog(path: Optional[Union[str, Path]] = None) -> pd.DataFrame:
    """Load a catalogue from CSV or Parquet; ``$MUSIC_CATALOG`` or the shipped sample by default."""
    path = Path(path or os.environ.get(CATALOG_ENV) or DEFAULT_CATALOG)
    if not path.exists():
        raise CatalogError(f"catalogue file not found: {path}")
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError as e:
        raise CatalogError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    except Exception as e:  # pandas raises many types for a broken file
        raise CatalogError(f"{path}: cannot be read as {path.suffix or 'CSV'}: {e}") from e
    return validate_catalog(df, source=str(path))
