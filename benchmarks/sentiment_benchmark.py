"""Sentiment figures for the README: held-out UCI accuracy vs VADER, Spearman on the graded music set.

    python benchmarks/sentiment_benchmark.py
"""
import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from nlu_components.sentence_featurizer import embed_with_tokens
from nlu_components.sentiment import SentimentModel, _vader, load_training_data, uci_eval_split


def emb(texts):
    return np.vstack([embed_with_tokens(texts[i:i + 64])[0] for i in range(0, len(texts), 64)])


def main():
    texts, y, w = load_training_data()
    model = SentimentModel().fit(texts, y, emb(texts), w)
    for name in ("uci_amazon.jsonl", "uci_yelp.jsonl"):
        t, labels = uci_eval_split(name=name)
        pred = model.predict(t, emb(t))
        vader = np.array([_vader().polarity_scores(x)["compound"] for x in t])
        print(f"{name} (held-out odd lines): model accuracy {((pred >= 0) == labels).mean():.3f}, "
              f"VADER {((vader >= 0) == labels).mean():.3f}")
    graded = pd.read_csv("tests/nlu/music_graded_test.csv")
    pred = model.predict(list(graded.text), emb(list(graded.text)))
    print(f"graded music set ({len(graded)} replies): Spearman {spearmanr(pred, graded.score).correlation:.3f}")
    for s in ("Hmm, OK", "Yes", "YES!", "Brilliant, I love it"):
        print(f"  {s!r}: {model.predict([s], emb([s]))[0]:.2f}")


if __name__ == "__main__":
    main()
