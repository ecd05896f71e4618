"""Low-confidence parses for input the assistant cannot understand.

Empty text, emoji or symbols only, control characters, other languages (most words are
neither in the training data, the catalogue vocabulary nor common English) and very long
messages get their intent confidence lowered (so ``FallbackClassifier`` answers with
``nlu_fallback`` and a graceful "please rephrase") and lose their attribute entities.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

COMMON_ENGLISH = set("""a about after again all am an and any anything are as at be because been but by can
could did do does doing don't for from get give go going good got had has have hear help her here him his how
i i'm if in into is it it's just know let like listen listening look love make me more most music my need no not
now of off ok on one or other our out play please put really right said say see she should show so some
something song songs sound sounds start still such that the their them then there these they thing think this
those to too tune tunes up us want was way we well were what when where which while who why will with would yes
you your""".split())
WORD = re.compile(r"[a-z][a-z']+")


def words(text: str) -> List[str]:
    return WORD.findall(text.lower())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class InputGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": 1000, "min_known_share": 0.5, "low_confidence": 0.05}

    def __init__(self, config, model_storage: ModelStorage, resource: Resource, vocabulary=None):
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.vocabulary = set(vocabulary or ()) | COMMON_ENGLISH

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocab = set()
        for m in training_data.training_examples:
            vocab.update(words(m.get(TEXT) or ""))
        self.vocabulary |= vocab
        with self.model_storage.write_to(self.resource) as d:
            with open(Path(d) / "vocabulary.pkl", "wb") as f:
                pickle.dump(sorted(vocab), f)
        return self.resource

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs):
        try:
            with model_storage.read_from(resource) as d:
                with open(Path(d) / "vocabulary.pkl", "rb") as f:
                    return cls(config, model_storage, resource, pickle.load(f))
        except (ValueError, FileNotFoundError):
            return cls(config, model_storage, resource)

    def not_understandable(self, text: str, entities=()) -> bool:
        """Words inside exactly-normalised attribute entities (catalogue artists and
        genres) count as known, so "play Sertanejo" is understood."""
        text = text or ""
        if not text.strip() or len(text) > self.config["max_chars"]:
            return True
        if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
            return True
        spans = [(e.get("start", 0), e.get("end", 0)) for e in entities
                 if e.get("entity") != "sentiment"
                 and e.get("confidence_normalisation", e.get("confidence", 0)) >= 0.99]
        masked = "".join(" " if any(a <= i < b for a, b in spans) else c for i, c in enumerate(text))
        ws = words(masked) or ([] if spans else words(text))
        if spans and not ws:
            return False
        letters = sum(c.isalpha() for c in text)
        if not ws or letters < 2:
            return True
        ascii_letters = sum(c.isascii() and c.isalpha() for c in text)
        if ascii_letters / max(letters, 1) < 0.7:
            return True
        known = sum(w in self.vocabulary for w in ws) / len(ws)
        return known < self.config["min_known_share"]

    def process(self, messages: List[Message]) -> List[Message]:
        low = self.config["low_confidence"]
        for m in messages:
            if not self.not_understandable(m.get(TEXT), m.get(ENTITIES) or []):
                continue
            intent = dict(m.get(INTENT) or {"name": None})
            intent["confidence"] = min(float(intent.get("confidence") or 0.0), low)
            m.set(INTENT, intent, add_to_output=True)
            ranking = [{**r, "confidence": min(float(r.get("confidence") or 0), low)}
                       for r in (m.get(INTENT_RANKING_KEY) or [])]
            m.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
            text = m.get(TEXT) or ""
            m.set(ENTITIES, [{"entity": "sentiment", "value": 0.0, "start": 0, "end": len(text),
                              "confidence": 1.0, "extractor": self.__class__.__name__}], add_to_output=True)
            m.set("sentiment", {"score": 0.0, "intensity": 0.0, "label": "neutral"}, add_to_output=True)
            m.set("input_guard", "not_understood", add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
