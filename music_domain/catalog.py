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
year              int      release year (alias: ``release_year``), 1900-2100; may be empty
                           (unknown): such a track's era is "unknown" and it never
                           satisfies an era constraint
popularity        number   0-100
energy            number   0-1
valence           number   0-1
danceability      number   0-1
acousticness      number   0-1
tempo             number   BPM, 0-300
speechiness, instrumentalness, liveness, loudness: optional
content           str      optional: ``music`` (default), ``spoken`` or ``sound``; tracks
                           that are not music are offered only when asked for by name
preview_url       str      optional: an audio preview (absolute URL, or a path the
                           server's ``/audio`` route serves, ``channels.audio``). Never
                           made up: a track without one has none.
preview_seconds, attribution: optional, with ``preview_url`` (the clip's length; the
                           credit a licence such as CC BY requires)
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
# The real catalogue built by ``python -m music_domain.real_catalog`` (shipped).
DEFAULT_CATALOG = PROJECT_ROOT / "data" / "catalog" / "real_tracks.parquet"
SAMPLE_CATALOG = PROJECT_ROOT / "data" / "catalog" / "spotify_tracks_sample.csv"
UNKNOWN_ERA = "unknown"
CONTENT_VALUES = ("music", "spoken", "sound")
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
        raw = df[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() | (values < lo) | (values > hi)
        if col == "year":  # an empty year is unknown, not bad
            bad &= ~(raw.isna() | (raw.astype(str).str.strip().isin(["", "nan", "<NA>", "None"])))
        if bad.any():
            raise CatalogError(f"{source}: column '{col}' must be a number in [{lo}, {hi}]; "
                               f"bad value(s) in row(s) {_rows(bad)}")
        df[col] = values.astype(float)
    dup = df["track_id"].duplicated()
    if dup.any():
        raise CatalogError(f"{source}: duplicate track_id in row(s) {_rows(dup)}")
    if "subgenre" not in df.columns or df["subgenre"].isna().all():
        df["subgenre"] = df["genre"]
        df["genre"] = df["subgenre"].map(lambda g: SUBGENRE_TO_FAMILY.get(g, g))
    else:
        df["subgenre"] = df["subgenre"].fillna(df["genre"]).astype(str)
    df["era"] = [UNKNOWN_ERA if y != y else era_of_year(y) for y in df["year"].to_numpy()]
    df["energy_level"] = df["energy"].map(energy_of)
    if "content" not in df.columns:
        df["content"] = "music"
    df["content"] = df["content"].fillna("music").astype(str).str.strip().str.lower()
    bad = ~df["content"].isin(CONTENT_VALUES)
    if bad.any():
        raise CatalogError(f"{source}: column 'content' must be one of {', '.join(CONTENT_VALUES)}; "
                           f"bad value(s) in row(s) {_rows(bad)}")
    # A preview only ever comes from the file's own column; none is made up.
    for col in ("preview_url", "attribution"):
        if col not in df.columns:
            df[col] = None
        df[col] = df[col].where(df[col].notna() & (df[col].astype(str).str.strip() != ""), None)
    if "preview_seconds" not in df.columns:
        df["preview_seconds"] = np.nan
    df["preview_seconds"] = pd.to_numeric(df["preview_seconds"], errors="coerce")
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


def best_known_track(catalog: pd.DataFrame, artist: str) -> Optional[int]:
    """The positional row of ``artist``'s most popular music track (not spoken word or sound), or
    None: the track that stands for an artist named as a seed rather than as the artist wanted."""
    mine = catalog["artist_name"] == artist
    if "content" in catalog:
        mine &= catalog["content"] == "music"
    rows = np.flatnonzero(mine.to_numpy())
    if not len(rows):
        return None
    return int(rows[int(np.argmax(catalog["popularity"].to_numpy()[rows]))])
