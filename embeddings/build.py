"""Build the music assets: listening histories from real sessions, track vectors and the FAISS index.

    python -m embeddings.build [--catalog PATH] [--sessions PATH] [--out models/music_assets] [--index-type auto]

Histories and the collaborative part of the vectors come from the real sessions
(``data/catalog/sessions.parquet``: playlists and CPCD liked sets, ``music_domain.real_catalog``);
each session's last tracks are held back as that listener's goals (``goals.json``).

Idempotent for fixed inputs and seed. Writes ``assets.json`` last, so a half-written build
is never loaded.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import pandas as pd

from music_domain.catalog import DEFAULT_CATALOG, load_catalog
from embeddings.assets import DEFAULT_SESSIONS, assets_dir
from embeddings.histories import session_histories
from embeddings.track_encoder import combine, audio_matrix, collaborative_matrix, text_matrix
from embeddings.track_index import INDEX_TYPES, TrackIndex


def build(catalog_path=None, out=None, index_type="auto", sessions_path=None, seed=0, quiet=False):
    t0 = time.time()
    out = assets_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    catalog_path = str(catalog_path or DEFAULT_CATALOG)
    sessions_path = str(sessions_path or DEFAULT_SESSIONS)
    catalog = load_catalog(catalog_path)
    histories, goals = session_histories(pd.read_parquet(sessions_path), catalog)
    unique_text, text_rows = text_matrix(catalog)
    vectors = combine(unique_text[text_rows], audio_matrix(catalog), collaborative_matrix(catalog, histories, seed=seed))
    index = TrackIndex(vectors, index_type=index_type, seed=seed)
    index.save(out / "index")
    histories.to_parquet(out / "histories.parquet", index=False)
    np.save(out / "text_unique.npy", unique_text)
    np.save(out / "text_rows.npy", text_rows)
    (out / "goals.json").write_text(json.dumps(goals))
    (out / "assets.json").write_text(json.dumps({
        "catalog": catalog_path, "sessions": sessions_path, "tracks": len(catalog), "users": len(goals),
        "plays": len(histories), "index_type": index.index_type, "seed": seed, "histories": "real sessions"},
        indent=1))
    if not quiet:
        print(f"built music assets for {len(catalog):,} tracks, {len(goals)} listeners from real sessions "
              f"({len(histories):,} plays), {index.index_type} index, in {time.time() - t0:.1f}s -> {out}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--index-type", default="auto", choices=list(INDEX_TYPES),
                   help="flat: exact; ivf: PCA + IVF with exact re-ranking; auto: ivf from 50,000 tracks")
    p.add_argument("--sessions", default=None, help="real sessions (default data/catalog/sessions.parquet)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    build(a.catalog, a.out, a.index_type, a.sessions, a.seed)


if __name__ == "__main__":
    main()
