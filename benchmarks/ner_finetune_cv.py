"""Would fine-tuning MiniLM as a token classifier beat the CRF mention tagger? Cross-validation
*within the training requests*, on the same folds as ``benchmarks/ner_cv.py``.

    python benchmarks/ner_finetune_cv.py --folds 0 --lr 3e-4 --epochs 8

all-MiniLM-L6-v2 (the packaged weights) with a token-classification head over the BIO tags
``Artist`` / ``WoA``, the first word piece of each word labelled, trained with AdamW (linear decay
after 10% warm-up, batch 16) on k-1 folds of ``train.bio`` plus ``--augment`` copies of each request
with its names swapped for names from the gazetteers (as the CRF is trained); scored strictly (type
and exact span, ``ner_benchmark.score``) on the remaining fold. ``heldout.bio`` is never read. A
negative result kept as a record: PyTorch on the CPU, about 30 s an epoch on 2 cores; the tagger in
use is the CRF (``music_domain.mentions.MentionTagger``).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

LABELS = ["O", "B-Artist", "I-Artist", "B-WoA", "I-WoA"]


def _first_pieces(enc, i):
    prev = None
    for j, word in enumerate(enc.word_ids(i)):
        if word is not None and word != prev:
            yield j, word
        prev = word


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2], help="which of the 3 folds to score")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--augment", type=int, default=2)
    a = p.parse_args(argv)
    if not all(0 <= k < 3 for k in a.folds) or a.epochs < 1 or a.lr <= 0:
        p.error("--folds are among 0 1 2; --epochs and --lr must be positive")

    from rasa_runtime.environment import apply_defaults

    apply_defaults()  # offline: the packaged weights only
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup

    from embeddings.text_encoder import model_path
    from music_domain.catalog import load_catalog
    from music_domain.mentions import NER_DATA_DIR, MentionTagger, augment_sentences, read_bio
    from ner_benchmark import prf, score
    from ner_cv import folds_of

    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(model_path())
    names = MentionTagger.with_gazetteers(load_catalog())

    def encode(sents):
        return tok([w for w, _ in sents], is_split_into_words=True, truncation=True, max_length=128,
                   padding=True, return_tensors="pt")

    def labels(enc, sents):
        out = np.full(enc["input_ids"].shape, -100)
        for i, (_, tags) in enumerate(sents):
            for j, word in _first_pieces(enc, i):
                out[i, j] = LABELS.index(tags[word])
        return torch.tensor(out)

    def predict(model, sents):
        model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(sents), 64):
                batch = sents[i:i + 64]
                enc = encode(batch)
                logits = model(**enc).logits.numpy()
                for k, (words, _) in enumerate(batch):
                    tags = ["O"] * len(words)
                    for j, word in _first_pieces(enc, k):
                        tags[word] = LABELS[int(logits[k, j].argmax())]
                    for x, t in enumerate(tags):  # an I- without its B- starts a mention
                        if t.startswith("I-") and (x == 0 or tags[x - 1][2:] != t[2:]):
                            tags[x] = "B-" + t[2:]
                    out.append(tags)
        return out

    def train(fit_on, seed):
        torch.manual_seed(seed)
        rng = random.Random(seed)
        data = list(fit_on) + augment_sentences(fit_on, sorted(names.gaz_artist.names), sorted(names.gaz_work.names),
                                                copies=a.augment, seed=seed)
        model = AutoModelForTokenClassification.from_pretrained(model_path(), num_labels=len(LABELS))
        opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
        steps = a.epochs * ((len(data) + 15) // 16)
        schedule = get_linear_schedule_with_warmup(opt, int(0.1 * steps), steps)
        for epoch in range(a.epochs):
            model.train()
            rng.shuffle(data)
            t0, total = time.time(), 0.0
            for i in range(0, len(data), 16):
                batch = data[i:i + 16]
                enc = encode(batch)
                loss = model(**enc, labels=labels(enc, batch)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                schedule.step()
                opt.zero_grad()
                total += loss.item()
            print(f"  epoch {epoch}: loss {total / (len(data) / 16):.3f}, {time.time() - t0:.0f} s", flush=True)
        return model

    train_set = [(w, t) for w, t in read_bio(NER_DATA_DIR / "train.bio") if w]
    folds = folds_of(train_set, 3)
    f1 = {"Artist": [], "WoA": []}
    for k in a.folds:
        test_idx = set(folds[k])
        fit_on = [s for i, s in enumerate(train_set) if i not in test_idx]
        test = [train_set[i] for i in folds[k]]
        res = score(test, predict(train(fit_on, k), test))
        for kind in f1:
            f1[kind].append(prf(*res[(kind, "all")])[2])
        print(f"fold {k}: artist F1 {f1['Artist'][-1]:.3f}, work F1 {f1['WoA'][-1]:.3f}", flush=True)
    print(f"mean over folds {a.folds}: artist F1 {np.mean(f1['Artist']):.3f}, work F1 {np.mean(f1['WoA']):.3f} "
          f"(lr {a.lr}, {a.epochs} epochs, {a.augment} augmented copies)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
