"""Everything the running assistant, the policies and the simulator share about music:
the catalogue, its vocabulary, the track index, listening histories and the retriever.

Built by ``python -m embeddings.build`` into ``models/music_assets/`` (override with
``$MUSIC_ASSETS_DIR``); loaded once per process with ``load_assets()``.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import pandas as pd

from music_domain.attributes import Vocabulary
from music_domain.catalog import PROJECT_ROOT, load_catalog
from music_domain.search import CatalogArrays
from embeddings.histories import ProfileStore, validate_histories
from embeddings.retrieval import HistoryAwareRetriever
from embeddings.track_index import REBUILD_COMMAND, IndexError_, TrackIndex

DEFAULT_ASSETS_DIR = PROJECT_ROOT / "models" / "music_assets"
DEFAULT_SESSIONS = PROJECT_ROOT / "data" / "catalog" / "sessions.parquet"
ASSETS_ENV = "MUSIC_ASSETS_DIR"


def assets_dir(path=None) -> Path:
    return Path(path or os.environ.get(ASSETS_ENV) or DEFAULT_ASSETS_DIR)


@dataclass
class MusicAssets:
    catalog: pd.DataFrame
    arrays: CatalogArrays
    vocabulary: Vocabulary
    index: TrackIndex
    histories: pd.DataFrame
    profiles: ProfileStore
    goals: Dict[str, List[int]]  # listener -> catalogue rows held back from their session (what they look for)
    retriever: HistoryAwareRetriever
    directory: Path

    def track(self, row: int) -> dict:
        return self.catalog.iloc[int(row)].to_dict()

    def row_of(self, track_id: str) -> Optional[int]:
        rows = self.__dict__.get("_row_of")
        if rows is None:
            rows = self.__dict__["_row_of"] = {t: i for i, t in enumerate(self.catalog["track_id"])}
        return rows.get(track_id)


def load_assets_from(directory=None) -> MusicAssets:
    directory = assets_dir(directory)
    info_path = directory / "assets.json"
    if not info_path.exists():
        raise IndexError_(f"no music assets at {directory}; build them with `{REBUILD_COMMAND}`")
    info = json.loads(info_path.read_text())
    catalog = load_catalog(info["catalog"])
    index = TrackIndex.load(directory / "index", expected_tracks=len(catalog))
    histories = validate_histories(pd.read_parquet(directory / "histories.parquet"))
    track_row = dict(zip(catalog["track_id"], range(len(catalog))))
    profiles = ProfileStore(histories, track_row, index.vectors)
    goals = {u: [track_row[t] for t in ids if t in track_row]
             for u, ids in json.loads((directory / "goals.json").read_text()).items()}
    goals = {u: rows for u, rows in goals.items() if rows}
    arrays = CatalogArrays(catalog)
    return MusicAssets(catalog, arrays, Vocabulary.from_catalog(catalog), index, histories, profiles,
                       goals, HistoryAwareRetriever(arrays, index, profiles), directory)


_cache: Dict[str, MusicAssets] = {}
_lock = threading.Lock()


def load_assets(directory=None) -> MusicAssets:
    """Process-wide shared assets (loaded on first use)."""
    key = str(assets_dir(directory).resolve())
    with _lock:
        if key not in _cache:
            _cache[key] = load_assets_from(directory)
        return _cache[key]
