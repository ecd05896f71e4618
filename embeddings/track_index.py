"""A persisted FAISS index over track vectors, with constraint filtering.

Index type by config (``index_type``): ``flat`` (exact ``IndexFlatIP``), ``hnsw``
(``IndexHNSWFlat`` on inner product), or ``auto``: flat below ``hnsw_threshold`` tracks,
HNSW above. Filtered search: when the constraints leave few tracks (at most
``exact_filter_max``), their vectors are scored exactly; otherwise the index is searched
with a FAISS ``IDSelectorBitmap`` so every result satisfies the constraints.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

REBUILD_COMMAND = "python -m embeddings.build"


class IndexError_(RuntimeError):
    """A missing or corrupt index; the message names the command that rebuilds it."""


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class TrackIndex:
    def __init__(self, vectors: np.ndarray, index_type: str = "auto", hnsw_threshold: int = 50_000,
                 hnsw_m: int = 32, ef_construction: int = 80, ef_search: int = 96,
                 exact_filter_max: int = 20_000, index=None):
        import faiss

        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = self.vectors.shape
        if n == 0:
            raise IndexError_("refusing to build an index over zero tracks")
        if index_type == "auto":
            index_type = "flat" if n < hnsw_threshold else "hnsw"
        self.index_type = index_type
        self.ef_search = ef_search
        self.exact_filter_max = exact_filter_max
        if index is None:
            if index_type == "flat":
                index = faiss.IndexFlatIP(d)
            elif index_type == "hnsw":
                index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = ef_construction
            else:
                raise ValueError(f"unknown index_type {index_type!r}; use flat, hnsw or auto")
            index.add(self.vectors)
        self.index = index

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, query: np.ndarray, k: int, allowed: Optional[np.ndarray] = None
               ) -> Tuple[np.ndarray, np.ndarray]:
        """(rows, scores) of the k best tracks by inner product, within ``allowed`` if given."""
        import faiss

        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) == 0:
                return rows, np.zeros(0, dtype=np.float32)
            if len(rows) <= self.exact_filter_max or len(rows) <= k:
                scores = self.vectors[rows] @ q[0]
                k = min(k, len(rows))
                top = np.argpartition(-scores, k - 1)[:k]
                top = top[np.argsort(-scores[top])]
                return rows[top], scores[top]
            bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            if self.index_type == "hnsw":
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.ef_search, k))
            else:
                params = faiss.SearchParameters(sel=sel)
            scores, ids = self.index.search(q, k, params=params)
        else:
            if self.index_type == "hnsw":
                self.index.hnsw.efSearch = max(self.ef_search, k)
            scores, ids = self.index.search(q, k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def save(self, directory: Path) -> None:
        import faiss

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / "tracks.faiss"))
        np.save(directory / "vectors.npy", self.vectors)
        meta = {"index_type": self.index_type, "ntotal": self.ntotal, "dim": int(self.vectors.shape[1]),
                "ef_search": self.ef_search, "exact_filter_max": self.exact_filter_max,
                "sha256": {f: _digest(directory / f) for f in ("tracks.faiss", "vectors.npy")}}
        (directory / "index_meta.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: Path, expected_tracks: Optional[int] = None) -> "TrackIndex":
        import faiss

        directory = Path(directory)
        meta_path = directory / "index_meta.json"
        hint = f"rebuild it with `{REBUILD_COMMAND}`"
        if not meta_path.exists():
            raise IndexError_(f"no track index at {directory}; {hint}")
        try:
            meta = json.loads(meta_path.read_text())
            for f, digest in meta["sha256"].items():
                if not (directory / f).exists():
                    raise IndexError_(f"track index file {directory / f} is missing; {hint}")
                if _digest(directory / f) != digest:
                    raise IndexError_(f"track index file {directory / f} is corrupt (checksum mismatch); {hint}")
            index = faiss.read_index(str(directory / "tracks.faiss"))
            vectors = np.load(directory / "vectors.npy")
        except IndexError_:
            raise
        except Exception as e:
            raise IndexError_(f"track index at {directory} cannot be read ({e}); {hint}") from e
        if index.ntotal == 0 or index.ntotal != meta["ntotal"] or len(vectors) != index.ntotal:
            raise IndexError_(f"track index at {directory} is empty or inconsistent; {hint}")
        if expected_tracks is not None and index.ntotal != expected_tracks:
            raise IndexError_(f"track index at {directory} holds {index.ntotal} tracks but the catalogue "
                              f"has {expected_tracks}; {hint}")
        return cls(vectors, index_type=meta["index_type"], ef_search=meta["ef_search"],
                   exact_filter_max=meta["exact_filter_max"], index=index)
