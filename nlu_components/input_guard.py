"""Low-confidence parses for input the assistant cannot understand.

Empty text, emoji or symbols only, control characters, other languages (most words are
neither in the training data, the catalogue vocabulary nor common English) and very long
messages get their intent confidence lowered (so ``FallbackClassifier`` answers with
``nlu_fallback`` and a graceful "please rephrase") and lose their attribute entities.
"""
from __future__ import annotations

import re
from pathlib import Path
from functools import lru_cache
from typing import Any, Dict, FrozenSet, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.persistence import load_object, save_object

COMMON_ENGLISH = set("""a about after again all am an and any anything are as at be because been but by can
could did do does doing don't for from get give go going good got had has have hear help her here him his how
i i'm if in into is it it's just know let like listen listening look love make me more most music my need no not
now of off ok on one or other our out play please put really right said say see she should show so some
something song songs sound sounds start still such that the their them then there these they thing think this
those to too tune tunes up us want was way we well were what when where which while who why will with would yes
you your umm hmm uh erm mmm yeah yep nah nope ok okay""".split())
WORD = re.compile(r"[a-z][a-z']+")
# intents that both say "yes" to what is playing: "accept" (start the station) and "affirm" (I
# like it). "yes I love it" after a sample is split between them (0.54 / 0.45), and
# FallbackClassifier's ambiguity check then answered "Sorry, I didn't quite get that".
AGREEING = frozenset({"accept", "affirm"})
# a yes that asks to start what is playing or offered ("yes start it", "ok, play the station"):
# an accept, whatever share the intent model gave it (it read "yes start it" as affirm 0.96)
ASKS_TO_START = re.compile(r"\b(?:start|begin)\b.*\b(?:it|this|that|station|playlist|radio)\b"
                           r"|\b(?:make|play|start)\b(?: it)?(?: a| the| that)? (?:station|playlist|radio)\b")

# a farewell said with a "no" or a "thanks" ("no thanks, bye", "ok thanks, see ya"): the intent
# model reads the first words (deny 0.98); the listener is leaving
FAREWELL = re.compile(r"(?<![\w'])(?:bye|bye bye|goodbye|good bye|byee+|see (?:ya|you)(?: later)?|cya|gotta go|"
                      r"good ?night|that'?s (?:all|it) for (?:now|today))(?![\w'])")
# what a farewell turns these intents into: a "no" gives up the search, a "yes" or thanks ends it
# ("ok thanks, see ya" stays a yes: after a station offer it starts the station)
# ("ok whatever, bye", read as "surprise me", leaves: nobody asks for a surprise on the way out)
FAREWELL_INTENTS = {"deny": "stop", "dont_know": "stop", "surprise_me": "stop", "greet": "goodbye",
                    "out_of_scope": "goodbye"}
FAREWELL_CONFIDENCE = 0.9


def relabel_intent(m: Message, name: str, at_least: float = 0.0) -> None:
    """The message's intent becomes ``name`` with the confidence it had (or ``at_least``, the
    confidence of the evidence for the new reading); ``name`` heads the ranking, the intent it
    replaces leaves it and the others share no more than what is left (else FallbackClassifier
    reads two intents as an ambiguity)."""
    intent = dict(m.get(INTENT) or {})
    conf = max(float(intent.get("confidence") or 0.0), float(at_least))
    m.set(INTENT, {**intent, "name": name, "confidence": conf}, add_to_output=True)
    m.set(INTENT_RANKING_KEY, [{"name": name, "confidence": conf}]
          + [{**r, "confidence": min(float(r.get("confidence") or 0.0), 1.0 - conf)}
             for r in (m.get(INTENT_RANKING_KEY) or []) if r.get("name") not in (name, intent.get("name"))],
          add_to_output=True)


@lru_cache(maxsize=1)
def english_words() -> FrozenSet[str]:
    """Common English: the whole words (4+ letters) of the packaged MiniLM tokenizer's
    vocabulary and the words of VADER's lexicon, plus the short words above. Shorter
    wordpieces are left out because many are also French/Spanish/German words."""
    out = set(COMMON_ENGLISH)
    try:
        from embeddings.text_encoder import model_path

        with open(Path(model_path()) / "vocab.txt", encoding="utf-8") as f:
            out.update(w for w in (line.strip() for line in f) if len(w) >= 4 and w.isascii() and w.isalpha())
    except (OSError, ImportError):
        pass
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        out.update(w for w in SentimentIntensityAnalyzer().lexicon if len(w) >= 3 and w.isalpha())
    except ImportError:
        pass
    return frozenset(out)


def known_word(word: str, vocabulary) -> bool:
    """In the vocabulary, or one swap or deletion away from a word in it (typos: "htink")."""
    if word in vocabulary:
        return True
    if len(word) < 4:
        return False
    swaps = (word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1))
    deletions = (word[:i] + word[i + 1:] for i in range(len(word)))
    return any(w in vocabulary for w in swaps) or any(w in vocabulary for w in deletions)


def words(text: str) -> List[str]:
    return WORD.findall(text.lower())


# "No" and "without" in the languages listeners mix into English: with one of these, a genre named
# in a foreign sentence may be what the listener does not want
FOREIGN_NEGATION = frozenset("nada ningun ninguna nunca sin pas sans jamais aucun nicht kein keine keinen "
                             "ohne nie niente senza nessun nao sem".split())


def spans_of_values(entities) -> List[tuple]:
    """The spans of entities whose value was named exactly (normalised with confidence >= 0.99)."""
    return [(e.get("start", 0), e.get("end", 0)) for e in entities
            if e.get("entity") != "sentiment" and float(e.get("confidence_normalisation", 0.0)) >= 0.99]


def _merged(spans) -> List[tuple]:
    """Overlapping spans as one (a genre and its subgenre on the same word are one word)."""
    out: List[list] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [tuple(x) for x in out]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class InputGuard(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"max_chars": 1000, "min_known_share": 0.5, "low_confidence": 0.05}

    def __init__(self, config, model_storage: ModelStorage, resource: Resource, vocabulary=None):
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.vocabulary = set(vocabulary or ()) | english_words()

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocab = set()
        for m in training_data.training_examples:
            vocab.update(words(m.get(TEXT) or ""))
        self.vocabulary |= vocab
        return save_object(self.model_storage, self.resource, "vocabulary.pkl", sorted(vocab))

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs):
        return cls(config, model_storage, resource, load_object(model_storage, resource, "vocabulary.pkl"))

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
        # Accented letters outside catalogue names ("Beyoncé" is masked above): another language.
        masked_letters = [c for c in masked if c.isalpha()]
        if sum(not c.isascii() for c in masked_letters) > 0.03 * max(len(masked_letters), 1):
            return True
        # A catalogue name or genre said exactly counts as one known word (however many entities
        # share its words), and a "please" in another language as none: "quiero jazz" and "algo de
        # reggaeton por favor" ask for music. Another language's "no" ("nada de reggaeton", "pas
        # de rock") would be heard as the genre asked for: such a message stays not understood.
        from nlu_components.music_mentions import POLITE_WORDS

        content = [w for w in ws if w not in POLITE_WORDS]
        named = _merged(spans_of_values(entities))
        if named and FOREIGN_NEGATION.intersection(content):
            return True  # "sin reggaeton": "sin" is an English word too, so before the share
        known = sum(known_word(w, self.vocabulary) for w in content)
        if not content or known / len(content) >= self.config["min_known_share"]:
            return not content and not spans
        return (known + len(named)) / (len(content) + len(named)) < self.config["min_known_share"]

    @staticmethod
    def apply_asr_confidence(m: Message) -> None:
        """Speech from a voice channel with recognition confidence c (message metadata
        ``asr_confidence``): intent confidences are scaled by 0.5 + 0.5 c, and c is added to
        the parse so the policy can confirm what it heard instead of acting on it."""
        metadata = m.get("metadata") or {}
        try:
            asr = float(metadata.get("asr_confidence")) if isinstance(metadata, dict) else None
        except (TypeError, ValueError):
            asr = None
        if asr is None or asr != asr:
            return
        asr = min(1.0, max(0.0, asr))
        m.set("asr_confidence", asr, add_to_output=True)
        factor = 0.5 + 0.5 * asr
        intent = dict(m.get(INTENT) or {"name": None})
        intent["confidence"] = float(intent.get("confidence") or 0.0) * factor
        m.set(INTENT, intent, add_to_output=True)
        m.set(INTENT_RANKING_KEY, [{**r, "confidence": float(r.get("confidence") or 0) * factor}
                                   for r in (m.get(INTENT_RANKING_KEY) or [])], add_to_output=True)

    def process(self, messages: List[Message]) -> List[Message]:
        low = self.config["low_confidence"]
        for m in messages:
            self.apply_asr_confidence(m)
            if not self.not_understandable(m.get(TEXT), m.get(ENTITIES) or []):
                self.merge_agreeing(m)
                self.start_is_accept(m)
                self.farewell_ends(m)
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

    @staticmethod
    def merge_agreeing(m: Message) -> None:
        """When the two most likely intents are both a "yes" (``AGREEING``), the message is a yes:
        the more likely one keeps their summed confidence and the other leaves the ranking, so
        that FallbackClassifier does not call two readings of one answer ambiguous."""
        ranking = sorted(m.get(INTENT_RANKING_KEY) or [], key=lambda r: -float(r.get("confidence") or 0.0))
        if len(ranking) < 2 or {ranking[0].get("name"), ranking[1].get("name")} != AGREEING:
            return
        intent = dict(m.get(INTENT) or {})
        if intent.get("name") != ranking[0].get("name"):
            return
        conf = min(1.0, float(ranking[0]["confidence"]) + float(ranking[1]["confidence"]))
        m.set(INTENT, {**intent, "confidence": conf}, add_to_output=True)
        m.set(INTENT_RANKING_KEY, [{**ranking[0], "confidence": conf}] + ranking[2:], add_to_output=True)

    @staticmethod
    def start_is_accept(m: Message) -> None:
        """A yes (``affirm``) that asks to start it or the station is an ``accept``."""
        if (m.get(INTENT) or {}).get("name") == "affirm" and ASKS_TO_START.search((m.get(TEXT) or "").lower()):
            relabel_intent(m, "accept")

    @staticmethod
    def farewell_ends(m: Message) -> None:
        """A "no" or a "whatever" with a farewell ("no thanks, bye", "ok whatever, bye") gives up
        (``stop``); a greeting or anything out of scope with one ("cheers, see ya") is a
        ``goodbye``. A yes, a request or an accept with a farewell ("ok thanks, see ya" to an
        offered station, "play the station, bye") stays what it is."""
        name = (m.get(INTENT) or {}).get("name")
        said = FAREWELL.search((m.get(TEXT) or "").lower()) if name in FAREWELL_INTENTS else None
        if said is None or any(e.get("start", 0) < said.end() and said.start() < e.get("end", 0)
                               for e in m.get(ENTITIES) or [] if e.get("entity") in ("artist", "work", "unknown_mention")):
            return  # no farewell, or one inside a name ("no, not See You Again")
        # the farewell word is the surest part of the message: not a fallback however unsure the
        # intent model was of the rest, but as unsure as speech recognition was of the words
        asr = m.get("asr_confidence")
        relabel_intent(m, FAREWELL_INTENTS[name], FAREWELL_CONFIDENCE * (1.0 if asr is None else 0.5 + 0.5 * asr))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
