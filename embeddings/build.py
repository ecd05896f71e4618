"""Build the music assets: generated listening histories, track vectors and the FAISS index.

    python -m embeddings.build [--catalog PATH] [--out models/music_assets] [--index-type auto]

Idempotent for fixed inputs and seed. Writes ``assets.json`` last, so a half-written build
is never loaded.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from music_domain.catalog import DEFAULT_CATALOG, load_catalog
from embeddings.assets import assets_dir
from embeddings.histories import generate_histories
from embeddings.track_encoder import encode_tracks
from embeddings.track_index import INDEX_TYPES, TrackIndex


def build(catalog_path=None, out=None, index_type="auto", n_users=2000, seed=0, quiet=False):
    t0 = time.time()
    out = assets_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    catalog_path = str(catalog_path or DEFAULT_CATALOG)
    catalog = load_catalog(catalog_path)
    histories, tastes = generate_histories(catalog, n_users=n_users, seed=seed)
    parts = encode_tracks(catalog, histories)
    index = TrackIndex(parts["vectors"], index_type=index_type, seed=seed)
    index.save(out / "index")
    histories.to_parquet(out / "histories.parquet", index=False)
    np.save(out / "text_vectors.npy", parts["text"])
    (out / "tastes.json").write_text(json.dumps({u: dataclasses.asdict(t) for u, t in tastes.items()}))
    (out / "assets.json").write_text(json.dumps({
        "catalog": catalog_path, "tracks": len(catalog), "users": n_users, "plays": len(histories),
        "index_type": index.index_type, "seed": seed, "histories": "generated"}, indent=1))
    if not quiet:
        print(f"built music assets for {len(catalog)} tracks, {n_users} generated listeners "
              f"({len(histories)} plays), {index.index_type} index, in {time.time() - t0:.1f}s -> {out}")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--catalog", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--index-type", default="auto", choices=list(INDEX_TYPES),
                   help="flat: exact; ivf: PCA + IVF with exact re-ranking; auto: ivf from 50,000 tracks")
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    build(a.catalog, a.out, a.index_type, a.users, a.seed)


if __name__ == "__main__":
    main()
