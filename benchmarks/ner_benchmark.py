"""Artist / work (song, album) extraction on real requests held out from training.

    python benchmarks/ner_benchmark.py
    python benchmarks/ner_benchmark.py --compare-layer 4   # + the same tagger on another MiniLM layer

Data: MusicRecoNER (Epure & Hennequin, EACL 2023; MIT), copied to rasa_project/data/music_ner/:
``train.bio`` (the authors' dataset3 + dataset4, 1,351 queries) trains the tagger, ``heldout.bio``
(dataset2, 600 queries) is never trained on. Scoring is strict (type and exact token span), as in
the paper. Prints per-type precision/recall/F1, and F1 for seen and unseen entities apart: an
entity is *seen* when its words occur as an entity of that type in the training file, and both
gold and predicted spans are split that way. Also the paper's own exposure-based split (recall on
``heldout_seen_exposure.bio`` / ``heldout_rare_unseen_exposure.bio``), and the training time.
``--compare-layer`` also trains the tagger on another MiniLM layer's states and prints the paired
bootstrap (queries resampled, 1,000 times) of the F1 difference per type: whether a change is more
than the 600 queries' noise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from music_domain.mentions import NER_DATA_DIR, STATE_LAYER, MentionTagger, TYPES, read_bio, spans_of  # noqa: E402


def prf(tp, n_pred, n_gold):
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(gold_sents, pred_tags, seen=None, kinds=TYPES):
    """{type: (tp, n_pred, n_gold)}; with ``seen`` (type -> set of entity strings) also per
    seen/unseen subset."""
    out = {}
    for (words, gold), pred in zip(gold_sents, pred_tags):
        g = {(k, a, b) for k, a, b in spans_of(gold)}
        p = {(k, a, b) for k, a, b in spans_of(pred)}
        for k in kinds:
            gk = {s for s in g if s[0] == k}
            pk = {s for s in p if s[0] == k}
            groups = {"all": (gk, pk)}
            if seen is not None:
                is_seen = lambda s: " ".join(words[s[1]:s[2]]) in seen[k]  # noqa: E731
                groups["seen"] = ({s for s in gk if is_seen(s)}, {s for s in pk if is_seen(s)})
                groups["unseen"] = ({s for s in gk if not is_seen(s)}, {s for s in pk if not is_seen(s)})
            for name, (gg, pp) in groups.items():
                c = out.setdefault((k, name), [0, 0, 0])
                c[0] += len(gg & pp)
                c[1] += len(pp)
                c[2] += len(gg)
    return out


def train_tagger(train_sents, layer=STATE_LAYER):
    from music_domain.catalog import load_catalog

    return MentionTagger.with_gazetteers(load_catalog(), layer=layer).fit(train_sents)


def paired_bootstrap(gold_sents, pred_a, pred_b, n=1000, seed=0):
    """{type: (F1 of a - F1 of b, 2.5% and 97.5% quantiles)} over queries resampled together."""
    import numpy as np

    per_query = [(score([g], [pa]), score([g], [pb])) for g, pa, pb in zip(gold_sents, pred_a, pred_b)]
    rng = np.random.default_rng(seed)
    out = {}
    for k in TYPES:
        counts = np.array([[q[i][(k, "all")] for i in (0, 1)] for q in per_query], dtype=float)  # [n, 2, 3]

        def diff(c):
            f = [prf(*c[:, i].sum(axis=0))[2] for i in (0, 1)]
            return f[0] - f[1]

        boots = [diff(counts[rng.integers(0, len(counts), len(counts))]) for _ in range(n)]
        out[k] = (diff(counts), float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=NER_DATA_DIR)
    ap.add_argument("--layer", type=int, default=STATE_LAYER, help="MiniLM layer of the token states (0-6)")
    ap.add_argument("--compare-layer", type=int, help="also train on this layer; paired bootstrap of the difference")
    a = ap.parse_args(argv)
    train = read_bio(a.data / "train.bio")
    held = read_bio(a.data / "heldout.bio")
    t0 = time.perf_counter()
    tagger = train_tagger(train, a.layer)
    train_s = time.perf_counter() - t0
    seen = {k: set() for k in TYPES}
    for words, tags in train:
        for k, i, j in spans_of(tags):
            seen.setdefault(k, set()).add(" ".join(words[i:j]))
    t0 = time.perf_counter()
    vectors = tagger.sentence_vectors([w for w, _ in held])
    pred = [tagger.tag_words(w, v) for (w, _), v in zip(held, vectors)]
    tag_ms = (time.perf_counter() - t0) * 1000 / max(1, len(held))
    res = score(held, pred, seen)
    print(f"MusicRecoNER held-out (dataset2, {len(held)} queries, MiniLM layer {a.layer}; trained on {len(train)} queries of "
          f"dataset3+dataset4 in {train_s:.1f} s, MiniLM features included;\n {tag_ms:.2f} ms a query with its MiniLM pass)")
    print(f"{'type':8} {'subset':7} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for k in TYPES:
        for name in ("all", "seen", "unseen"):
            tp, n_pred, n_gold = res[(k, name)]
            p, r, f = prf(tp, n_pred, n_gold)
            print(f"{k:8} {name:7} {n_gold:5d} {n_pred:5d} {p:6.3f} {r:6.3f} {f:6.3f}")
    tot = [sum(res[(k, 'all')][i] for k in TYPES) for i in range(3)]
    p, r, f = prf(*tot)
    print(f"{'both':8} {'all':7} {tot[2]:5d} {tot[1]:5d} {p:6.3f} {r:6.3f} {f:6.3f}")
    print("Recall on the paper's exposure-based subsets (entities with / without Wikipedia exposure):")
    for label, fname in (("seen (exposure)", "heldout_seen_exposure.bio"),
                         ("rare/unseen (exposure)", "heldout_rare_unseen_exposure.bio")):
        gold = read_bio(a.data / fname)
        r = score(gold, pred)  # same queries, same order: only the kept entities count
        for k in TYPES:
            tp, _, n_gold = r[(k, "all")]
            print(f"  {label:24} {k:6} recall {tp / max(1, n_gold):.3f} ({n_gold} entities)")
    if a.compare_layer is not None:
        other = train_tagger(train, a.compare_layer)
        pred_b = [other.tag_words(w, v) for (w, _), v in zip(held, other.sentence_vectors([w for w, _ in held]))]
        res_b = score(held, pred_b)
        print(f"Layer {a.layer} minus layer {a.compare_layer} (paired bootstrap over the {len(held)} queries):")
        for k, (d, lo, hi) in paired_bootstrap(held, pred, pred_b).items():
            print(f"  {k:6} F1 {prf(*res[(k, 'all')])[2]:.3f} vs {prf(*res_b[(k, 'all')])[2]:.3f}: "
                  f"difference {d:+.3f}, 95% interval [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
