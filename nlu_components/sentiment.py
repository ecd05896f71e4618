"""Graded sentiment: a score in [-1, 1] and an intensity in [0, 1] for every user message.

Model (``SentimentModel``): ridge regression over
- the all-MiniLM-L6-v2 sentence embedding (meaning: "not really my thing" is negative);
- VADER's compound/pos/neg/neu scores (a lexicon feature, not the whole model);
- emphasis features: exclamation marks, share of capitals, elongated words ("sooo"),
  intensifiers, negation, each also multiplied by VADER's polarity so emphasis pushes a
  score further in the direction it already has ("YES!" > "Yes").
Trained on the music-domain graded replies (target = grade) and the even lines of the UCI
labelled sentences (target +-0.6), output squashed into [-1, 1].
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

import numpy as np

SENTIMENT_DIR = Path(__file__).resolve().parents[1] / "rasa_project" / "data" / "sentiment"
INTENSIFIERS = {"really", "very", "so", "absolutely", "totally", "super", "definitely", "completely", "truly",
                "extremely", "soooo", "sooo", "such"}
NEGATIONS = {"not", "no", "don't", "dont", "never", "isn't", "isnt", "can't", "cant", "won't", "nope", "nah",
             "neither", "nothing"}
UCI_TARGET = 0.6


def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    global _VADER
    try:
        return _VADER
    except NameError:
        _VADER = SentimentIntensityAnalyzer()
        return _VADER


def surface_features(text: str) -> np.ndarray:
    text = text or ""
    v = _vader().polarity_scores(text[:2000])
    letters = [c for c in text if c.isalpha()]
    caps = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 2 else 0.0
    words = re.findall(r"[a-z']+", text.lower())
    excl = min(text.count("!"), 5) / 3.0
    elong = float(bool(re.search(r"([a-z])\1\1", text.lower())))
    inten = min(sum(w in INTENSIFIERS for w in words), 3) / 2.0
    neg = float(any(w in NEGATIONS for w in words))
    pol = v["compound"]
    return np.array([pol, v["pos"], v["neg"], v["neu"], excl, caps, elong, inten, neg,
                     pol * excl, pol * caps, pol * inten, neg * pol, float(len(words) == 0)], dtype=np.float32)


class SentimentModel:
    """fit(texts, targets, embeddings) / predict(texts, embeddings) -> scores in [-1, 1]."""

    def __init__(self, alpha: float = 3.0):
        self.alpha = alpha
        self.model = None

    def _design(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        surf = np.stack([surface_features(t) for t in texts])
        return np.hstack([embeddings, surf * 2.0])

    def fit(self, texts, targets, embeddings, weights=None) -> "SentimentModel":
        from sklearn.linear_model import Ridge

        y = np.arctanh(np.clip(np.asarray(targets, float), -0.97, 0.97))
        self.model = Ridge(alpha=self.alpha).fit(self._design(texts, embeddings), y, sample_weight=weights)
        return self

    def predict(self, texts, embeddings) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("sentiment model is not trained")
        return np.tanh(self.model.predict(self._design(texts, embeddings)))


def load_training_data(directory: Path = SENTIMENT_DIR):
    """(texts, targets, weights): graded music replies and the UCI training split."""
    import pandas as pd

    graded = pd.read_csv(directory / "music_graded_train.csv")
    texts, targets, weights = list(graded["text"]), list(graded["score"]), [4.0] * len(graded)
    for name in ("uci_amazon.jsonl", "uci_yelp.jsonl"):
        lines = (directory / name).read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if i % 2 == 0:
                row = json.loads(line)
                texts.append(row["text"])
                targets.append(UCI_TARGET if row["label"] == 1 else -UCI_TARGET)
                weights.append(1.0)
    return texts, np.asarray(targets), np.asarray(weights)


def uci_eval_split(directory: Path = SENTIMENT_DIR, name: str = "uci_amazon.jsonl"):
    lines = (directory / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(l) for i, l in enumerate(lines) if i % 2 == 1]
    return [r["text"] for r in rows], np.array([r["label"] for r in rows])


def grade(score: float) -> str:
    if score >= 0.8:
        return "delighted"
    if score >= 0.6:
        return "enthusiastic"
    if score >= 0.35:
        return "positive"
    if score >= 0.1:
        return "lukewarm"
    if score > -0.1:
        return "neutral"
    if score > -0.6:
        return "negative"
    return "very_negative"


# --- the Rasa component ---------------------------------------------------------------
from rasa.engine.graph import ExecutionContext, GraphComponent  # noqa: E402
from rasa.engine.recipes.default_recipe import DefaultV1Recipe  # noqa: E402
from rasa.engine.storage.resource import Resource  # noqa: E402
from rasa.engine.storage.storage import ModelStorage  # noqa: E402
from rasa.shared.nlu.constants import ENTITIES, TEXT  # noqa: E402
from rasa.shared.nlu.training_data.message import Message  # noqa: E402
from rasa.shared.nlu.training_data.training_data import TrainingData  # noqa: E402

from nlu_components.persistence import load_object, save_object  # noqa: E402
from nlu_components.sentence_featurizer import SENTENCE_EMBEDDING, embed_with_tokens  # noqa: E402

SENTIMENT_KEY = "sentiment"


def message_embedding(message: Message) -> np.ndarray:
    emb = message.get(SENTENCE_EMBEDDING)
    if emb is None:
        emb = embed_with_tokens([message.get(TEXT) or ""])[0][0]
    return np.asarray(emb, dtype=np.float32)


def is_gibberish(text: str) -> bool:
    """Empty, emoji/symbols only, or mostly non-Latin text: no sentiment is read from it."""
    t = (text or "").strip()
    if not t:
        return True
    latin = sum(c.isascii() and c.isalpha() for c in t)
    return latin < 2 or latin / max(1, sum(c.isalpha() for c in t)) < 0.5


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class GradedSentimentAnalyzer(GraphComponent):
    """Adds ``sentiment: {score, intensity, label}`` to the parse output and a ``sentiment``
    entity (the score) that fills the ``sentiment`` slot."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"alpha": 3.0, "data_dir": None}

    def __init__(self, config, model_storage: ModelStorage, resource: Resource, model=None):
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.model: Optional[SentimentModel] = model

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        directory = Path(self.config["data_dir"]) if self.config.get("data_dir") else SENTIMENT_DIR
        texts, targets, weights = load_training_data(directory)
        emb = np.vstack([embed_with_tokens(texts[i:i + 64])[0] for i in range(0, len(texts), 64)])
        self.model = SentimentModel(self.config["alpha"]).fit(texts, targets, emb, weights)
        return save_object(self.model_storage, self.resource, "sentiment.pkl", self.model)

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs):
        return cls(config, model_storage, resource, load_object(model_storage, resource, "sentiment.pkl"))

    def score(self, message: Message) -> float:
        text = message.get(TEXT) or ""
        if self.model is None or is_gibberish(text):
            return 0.0
        return float(self.model.predict([text[:2000]], message_embedding(message)[None, :])[0])

    def process(self, messages: List[Message]) -> List[Message]:
        for m in messages:
            s = round(self.score(m), 3)
            m.set(SENTIMENT_KEY, {"score": s, "intensity": round(abs(s), 3), "label": grade(s)},
                  add_to_output=True)
            text = m.get(TEXT) or ""
            ents = [e for e in m.get(ENTITIES, []) if e.get("entity") != SENTIMENT_KEY]
            ents.append({"entity": SENTIMENT_KEY, "value": s, "start": 0, "end": len(text),
                         "confidence": 1.0, "extractor": self.__class__.__name__})
            m.set(ENTITIES, ents, add_to_output=True)
            m.data.pop(SENTENCE_EMBEDDING, None)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
