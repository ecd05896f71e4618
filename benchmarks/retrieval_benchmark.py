"""Track-index figures for the README: build time/memory, filtered query latency and ANN recall,
at the real catalogue's size and at generated scale.

    python benchmarks/retrieval_benchmark.py [--sizes 20000 200000 1000000] [--queries 500]

Scale part. Vectors at every size are **generated**: each generated track copies the attributes
(genre, subgenre, era, energy, ...) of a random track of the real catalogue (the built assets in
models/music_assets) and takes that track's vector plus Gaussian noise, renormalised, so the
clusters and the constraint selectivities are those of the real catalogue. The index is built
as `TrackIndex(index_type="auto")` builds it (flat below 50k, PCA + IVF with re-ranking above). Queries are profile-like
(normalised mixes of 20 track vectors), each with a realistic filter: none, a genre family,
family + energy, family + era, or energy only. Latency is one query at a time through
`TrackIndex.search(query, 10, allowed=mask)` with masks (and the index's per-mask bitmap and list counts)
prepared once per constraint set, as the running service caches them (the preparation is
timed apart); recall@10 is against exact search over the same allowed tracks.

Real size: the same measurement on the built index of the real catalogue itself (its own
vectors and constraint masks), listed first as "real".

Whether history helps next-play prediction on real sessions: ``benchmarks/playlist_benchmark.py``.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FILTERS = ({}, {"genre": None}, {"genre": None, "energy": None}, {"genre": None, "era": None},
           {"energy": None})


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generated_catalogue(assets, n: int, rng: np.random.Generator, noise: float = 0.2):
    """Each generated track: a random point between a real track and another real track of
    the same catalogue genre, plus Gaussian noise (norm ~``noise``), renormalised; it keeps
    the first track's attributes. Interpolating spreads tracks along their genre instead of
    piling hundreds of near-copies on each real track."""
    base = rng.integers(0, len(assets.catalog), n)
    sub = assets.catalog["subgenre"].to_numpy()
    groups = {s: np.flatnonzero(sub == s) for s in np.unique(sub)}
    mate = np.empty(n, dtype=np.int64)
    for s, rows in groups.items():
        idx = np.flatnonzero(sub[base] == s)
        mate[idx] = rows[rng.integers(0, len(rows), len(idx))]
    v = assets.index.vectors
    u = rng.random((n, 1)).astype(np.float32)
    vecs = v[base] + u * (v[mate] - v[base]) + rng.normal(0, noise / np.sqrt(v.shape[1]), (n, v.shape[1])
                                                           ).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    catalog = assets.catalog.iloc[base].reset_index(drop=True)
    return catalog, np.ascontiguousarray(vecs, dtype=np.float32)


def random_filters(catalog: pd.DataFrame, rng, count: int):
    out = []
    known_era = np.flatnonzero((catalog["era"] != "unknown").to_numpy())
    for i in range(count):
        template = FILTERS[i % len(FILTERS)]
        pool = known_era if "era" in template else None  # an era filter names a track's known decade
        row = catalog.iloc[int(pool[rng.integers(len(pool))]) if pool is not None else int(rng.integers(len(catalog)))]
        slots = {}
        for key in template:
            slots[key] = {"genre": row["genre"], "era": row["era"],
                          "energy": "upbeat" if row["energy"] >= 0.6 else "laid back"}[key]
        out.append(slots)
    return out


def scale_benchmark(assets, sizes, n_queries, seed):
    from music_domain.search import CatalogArrays
    from embeddings.track_index import TrackIndex

    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        if n == 0:  # the real catalogue and its vectors
            catalog, vecs = assets.catalog, assets.index.vectors
            n = len(catalog)
        else:
            catalog, vecs = generated_catalogue(assets, n, rng)
        arrays = CatalogArrays(catalog)
        before = rss_mb()
        t0 = time.perf_counter()
        index = TrackIndex(vecs, index_type="auto", seed=seed)
        build_s = time.perf_counter() - t0
        mem = rss_mb() - before + 0.0
        filters = random_filters(catalog, rng, n_queries)
        masks = {}
        t_mask = []
        for slots in filters:
            key = tuple(sorted(slots.items()))
            if key not in masks:
                t1 = time.perf_counter()
                masks[key] = arrays.mask(slots) if slots else None
                if masks[key] is not None and index.index_type == "ivf":
                    index.prepare_filter(masks[key])
                t_mask.append(time.perf_counter() - t1)
        mix = rng.integers(0, n, (n_queries, 20))
        queries = vecs[mix].sum(axis=1)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        for q, slots in zip(queries[:20], filters[:20]):  # warm-up
            index.search(q, 10, allowed=masks[tuple(sorted(slots.items()))])
        lat, recall, selectivity, kinds = [], [], [], []
        for q, slots in zip(queries, filters):
            kinds.append("+".join(sorted(slots)) or "none")
            allowed = masks[tuple(sorted(slots.items()))]
            t1 = time.perf_counter()
            got, _ = index.search(q, 10, allowed=allowed)
            lat.append((time.perf_counter() - t1) * 1000)
            cand = np.flatnonzero(allowed) if allowed is not None else np.arange(n)
            selectivity.append(len(cand) / n)
            scores = vecs[cand] @ q
            k = min(10, len(cand))
            truth = cand[np.argpartition(-scores, k - 1)[:k]]
            recall.append(len(np.intersect1d(got, truth)) / k)
            if allowed is not None and not allowed[got].all():
                raise AssertionError("a filtered search returned a track that breaks the constraint")
        lat = np.array(lat)
        by_kind = {kind: float(np.mean([r for r, k2 in zip(recall, kinds) if k2 == kind])) for kind in sorted(set(kinds))}
        rows.append({"tracks": n, "index": index.index_type, "build_s": build_s, "index_mem_mb": mem,
                     "vectors_mb": vecs.nbytes / 2**20, "p50_ms": np.percentile(lat, 50),
                     "p99_ms": np.percentile(lat, 99), "recall@10": float(np.mean(recall)),
                     "median_selectivity": float(np.median(selectivity)),
                     "mask_ms": 1000 * float(np.mean(t_mask))})
        print(f"  {n:>9,} tracks: {index.index_type}, build {build_s:.1f} s, index memory +{mem:.0f} MB "
              f"(vectors {vecs.nbytes / 2**20:.0f} MB); filtered query p50 {rows[-1]['p50_ms']:.2f} ms, "
              f"p99 {rows[-1]['p99_ms']:.2f} ms; recall@10 {rows[-1]['recall@10']:.3f}; "
              f"mask + filter preparation (once per constraint set) {rows[-1]['mask_ms']:.1f} ms", flush=True)
        print("      recall@10 by filter: " + ", ".join(f"{k} {v:.3f}" for k, v in by_kind.items()), flush=True)
        del index, vecs, catalog, arrays, masks
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 200_000, 1_000_000],
                    help="catalogue sizes; 0 is the real catalogue itself")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-scale", action="store_true")
    args = ap.parse_args(argv)
    import faiss
    faiss.omp_set_num_threads(args.threads)
    from embeddings.assets import load_assets

    assets = load_assets()
    if not args.skip_scale:
        print(f"index scale (0 = the real catalogue, others generated vectors, dim {assets.index.vectors.shape[1]}, {args.threads} threads, "
              f"{args.queries} filtered queries per size):")
        scale_benchmark(assets, args.sizes, args.queries, args.seed)


if __name__ == "__main__":
    main()
