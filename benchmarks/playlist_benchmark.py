"""Does history-aware retrieval find what real listeners went on to choose?

    python benchmarks/playlist_benchmark.py [--sessions 0] [--k 10] [--out results/playlist_benchmark]

Each real session (a TidyTuesday playlist or a CPCD liked set, ``embeddings.histories``) is split as
the assets were built: its first tracks are the listener's history, its last ``GOAL_SHARE`` are left
out. The assets' vectors and every baseline are trained on the histories only, so no left-out track
is seen. For each session, 10 tracks not in its history are recommended and scored against the
left-out ones: hit-rate@10 (at least one found) and NDCG@10 (binary relevance).

Methods:

- ``history-aware``: ``HistoryAwareRetriever.rank`` with the listener's profile, constrained to the
  genre family most of their history belongs to (what a listener would say: "some rock");
- ``history-aware, no constraint``: the same with no slots;
- ``constraint-only``: the same genre constraint, ranked without history (popularity and match);
- ``popularity``: the most popular music tracks;
- ``item-kNN``: ``implicit``'s ``CosineRecommender`` (item-item cosine, K=100) on the same histories.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ndcg(rows, relevant, k):
    gains = [1.0 / np.log2(i + 2) for i, r in enumerate(rows[:k]) if r in relevant]
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(relevant), k)))
    return sum(gains) / ideal if ideal else 0.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=0, help="evaluate the first N sessions (0: all)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--out", default="results/playlist_benchmark")
    a = p.parse_args(argv)

    from embeddings.assets import load_assets
    from implicit.nearest_neighbours import CosineRecommender

    t0 = time.time()
    assets = load_assets()
    arrays, retriever, k = assets.arrays, assets.retriever, a.k
    users = [u for u in sorted(assets.goals) if u in assets.profiles]
    if a.sessions:
        users = users[:a.sessions]
    played = {u: assets.profiles.played(u) for u in users}
    families = arrays.columns["genre"]

    # item-kNN on exactly the histories the assets were built from
    all_users = sorted(assets.profiles._played)
    uid = {u: i for i, u in enumerate(all_users)}
    r_idx = np.concatenate([np.full(len(assets.profiles.played(u)), uid[u]) for u in all_users])
    c_idx = np.concatenate([assets.profiles.played(u) for u in all_users])
    ui = sp.csr_matrix((np.ones(len(r_idx), np.float32), (r_idx, c_idx)), shape=(len(all_users), arrays.n))
    ui.data[:] = 1.0
    knn = CosineRecommender(K=100)
    knn.fit(ui, show_progress=False)
    music = arrays.music
    popular = np.argsort(-(arrays.columns["popularity"] + 1000 * music))[:5000]

    def top_popular(exclude):
        ex = set(exclude.tolist())
        return [r for r in popular if r not in ex][:k]

    methods = {
        "history-aware": lambda u, slots: retriever.rank(slots, user_id=u, exclude=played[u], k=k).rows.tolist(),
        "history-aware, no constraint": lambda u, slots: retriever.rank({}, user_id=u, exclude=played[u], k=k).rows.tolist(),
        "constraint-only": lambda u, slots: retriever.rank(slots, user_id=None, use_history=False,
                                                           exclude=played[u], k=k).rows.tolist(),
        "popularity": lambda u, slots: top_popular(played[u]),
        "item-kNN (implicit)": lambda u, slots: knn.recommend(uid[u], ui[uid[u]], N=k,
                                                              filter_already_liked_items=True)[0].tolist(),
    }
    scores = {m: {"hit": [], "ndcg": [], "ms": []} for m in methods}
    for u in users:
        goal = set(assets.goals[u])
        fams, counts = np.unique(families[played[u]], return_counts=True)
        slots = {"genre": str(fams[np.argmax(counts)])}
        for m, f in methods.items():
            t = time.perf_counter()
            rows = f(u, slots)
            scores[m]["ms"].append(1000 * (time.perf_counter() - t))
            scores[m]["hit"].append(float(any(r in goal for r in rows)))
            scores[m]["ndcg"].append(ndcg(rows, goal, k))
    table = {m: {f"hit_rate@{k}": float(np.mean(s["hit"])), f"ndcg@{k}": float(np.mean(s["ndcg"])),
                 "p50_ms": float(np.median(s["ms"]))} for m, s in scores.items()}
    n_goal = np.mean([len(assets.goals[u]) for u in users])
    out = {"sessions": len(users), "left_out_per_session": float(n_goal), "catalogue_tracks": arrays.n,
           "k": k, "results": table, "machine": f"{platform.machine()}, {platform.system()}",
           "seconds": round(time.time() - t0, 1)}
    Path(a.out).mkdir(parents=True, exist_ok=True)
    (Path(a.out) / "results.json").write_text(json.dumps(out, indent=1))
    print(f"{len(users)} real sessions, {n_goal:.1f} left-out tracks each, {arrays.n:,} catalogue tracks")
    print(f"{'method':32s} {'hit@%d' % k:>8s} {'NDCG@%d' % k:>8s} {'p50 ms':>7s}")
    for m, r in table.items():
        print(f"{m:32s} {r[f'hit_rate@{k}']:8.3f} {r[f'ndcg@{k}']:8.3f} {r['p50_ms']:7.1f}")


if __name__ == "__main__":
    main()
