"""Choose the mention tagger's settings by cross-validation *within the training requests*.

    python benchmarks/ner_cv.py                       # the default grid, 3 folds
    python benchmarks/ner_cv.py --c1 0.05 --c2 0.05 --augment 2   # one setting
    python benchmarks/ner_cv.py --c1 0.05 --c2 0.05 --layers 3 4 5 6  # which MiniLM layer

The held-out part of MusicRecoNER (``heldout.bio``) is never read here: each setting is trained on
k-1 folds of ``train.bio`` and scored (strict spans, as ``ner_benchmark.py``) on the remaining fold.
MiniLM vectors are computed once per sentence (augmented copies included) and reused across
settings, so a grid costs the CRF and probe fits only. Prints artist and work F1 per setting, mean
over folds, best first; ``--json`` writes every fold's counts.
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from music_domain.mentions import NER_DATA_DIR, STATE_LAYER, MentionTagger, corpus_vectors, read_bio  # noqa: E402
from ner_benchmark import prf, score  # noqa: E402

_VECTORS = {}


def cached_vectors(sentences, layer=STATE_LAYER):
    """MiniLM token vectors of ``layer``, computed once per distinct sentence in this process."""
    missing = [list(w) for w in dict.fromkeys(tuple(w) for w in sentences) if (layer, tuple(w)) not in _VECTORS]
    if missing:
        for words, v in zip(missing, corpus_vectors(missing, layer)):
            _VECTORS[(layer, tuple(words))] = v
    return [_VECTORS[(layer, tuple(w))] for w in sentences]


class CachedTagger(MentionTagger):
    def sentence_vectors(self, sentences):
        return cached_vectors(sentences, self.state_layer)


def folds_of(sentences, k, seed=0):
    idx = list(range(len(sentences)))
    random.Random(seed).shuffle(idx)
    return [sorted(idx[i::k]) for i in range(k)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=NER_DATA_DIR)
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--c1", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2])
    ap.add_argument("--c2", type=float, nargs="+", default=[0.01, 0.05, 0.2])
    ap.add_argument("--augment", type=int, nargs="+", default=[2])
    ap.add_argument("--probe-c", type=float, nargs="+", default=[0.5])
    ap.add_argument("--layers", type=int, nargs="+", default=[STATE_LAYER],
                    help="MiniLM layers (0-6) whose token states the tagger reads")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.folds < 2:
        ap.error("--folds must be at least 2")
    from music_domain.catalog import load_catalog

    catalog = load_catalog()
    train = [(w, t) for w, t in read_bio(a.data / "train.bio") if w]
    folds = folds_of(train, a.folds)
    rows = []
    for c1, c2, aug, pc, layer in itertools.product(a.c1, a.c2, a.augment, a.probe_c, a.layers):
        t0 = time.perf_counter()
        per_fold = []
        for k, test_idx in enumerate(folds):
            test_set = set(test_idx)
            fit_on = [s for i, s in enumerate(train) if i not in test_set]
            test = [train[i] for i in test_idx]
            tagger = CachedTagger.with_gazetteers(catalog, directory=a.data, c1=c1, c2=c2, augment=aug,
                                                  probe_c=pc, seed=k, layer=layer)
            tagger.fit(fit_on)
            vectors = cached_vectors([w for w, _ in test], layer)
            pred = [tagger.tag_words(w, v) for (w, _), v in zip(test, vectors)]
            res = score(test, pred)
            per_fold.append({kind: res[(kind, "all")] for kind in ("Artist", "WoA")})
        f1 = {kind: [prf(*f[kind])[2] for f in per_fold] for kind in ("Artist", "WoA")}
        row = {"c1": c1, "c2": c2, "augment": aug, "probe_c": pc, "layer": layer,
               "artist_f1": sum(f1["Artist"]) / len(folds), "work_f1": sum(f1["WoA"]) / len(folds),
               "artist_f1_folds": f1["Artist"], "folds": per_fold, "seconds": time.perf_counter() - t0}
        rows.append(row)
        print(f"c1={c1:<5} c2={c2:<5} augment={aug} probe_c={pc:<4} layer={layer} artist F1 {row['artist_f1']:.3f} "
              f"({' / '.join(f'{x:.3f}' for x in f1['Artist'])})  work F1 {row['work_f1']:.3f}  "
              f"{row['seconds']:.0f} s", flush=True)
    rows.sort(key=lambda r: -r["artist_f1"])
    print(f"\n{a.folds}-fold cross-validation within train.bio ({len(train)} requests), best first:")
    for r in rows:
        print(f"  c1={r['c1']:<5} c2={r['c2']:<5} augment={r['augment']} probe_c={r['probe_c']:<4} layer={r['layer']} "
              f"artist F1 {r['artist_f1']:.3f}  work F1 {r['work_f1']:.3f}")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
