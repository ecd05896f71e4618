"""Critiques in words ("too slow", "something newer", "no more country", "not that genre", "not
radiohead") as ``critique`` entities (``music_domain.critiques`` has the patterns and what each means).

Runs after the attribute and mention extractors. Attribute entities inside a critique are
removed, because the critique says what they would get backwards: "too slow" is not a request
for slow music, "no more country" not one for country. A free description the attribute
extractor guessed for the whole message ("too slow" -> laid back) goes too. So does a song or
album title the mention tagger read within the critique's own words ("too old" is a critique, not
the song "Too Old"), unless the message also names an artist ("Too Old by Bad//Dreems"). A message
with a critique is a request for other music: its intent becomes ``request_music`` unless DIET already
reads it as one or, for "more like this", as ``accept``.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from music_domain import critiques
from music_domain.attributes import ATTRIBUTES

EXTRACTOR = "CritiqueExtractor"
# the attributes a critique can overrule (a named artist is a seed, not a critique target)
CRITIQUED_ATTRIBUTES = tuple(a for a in ATTRIBUTES if a != "artist")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CritiqueExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # below min_intent_confidence (the fallback threshold) a critique makes it request_music
        return {"catalog": None, "min_intent_confidence": 0.45, "critique_confidence": 0.9}

    def __init__(self, config: Dict[Text, Any]):
        self.config = config

    @classmethod
    def create(cls, config, model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "CritiqueExtractor":
        return cls(config)

    @property
    def vocabulary(self):
        from nlu_components.music_attributes import _vocabulary

        return _vocabulary(self.config.get("catalog"))

    def exact_artist(self, words: str):
        """The catalogue artist ``words`` name exactly (after normalisation: "radioheads"), unless
        they are only ordinary words ("no more love songs" names no artist "Love")."""
        from nlu_components.music_mentions import _resolver, only_ordinary_words

        if not re.search(r"[^\W\d_]", words) or only_ordinary_words(words):
            return None
        r = _resolver(self.config.get("catalog"), 85.0).artist(words)
        return r.value if r.resolved and r.score >= 100.0 else None

    def process(self, messages: List[Message]) -> List[Message]:
        for m in messages:
            text = m.get(TEXT) or ""
            found = critiques.parse(text, self.vocabulary) if text.strip() else []
            entities = m.get(ENTITIES) or []
            # "not radiohead": the artist is excluded, not asked for (the entity becomes the critique)
            pairs = critiques.artist_exclusions(text, entities)
            excluded = [f for _, f in pairs]
            gone = [id(e) for e, _ in pairs]
            # ... and those no extractor named ("not nirvana though" was read as the genre grunge)
            claimed = [(f.start, f.end) for f in found + excluded]
            excluded += [f for f in critiques.named_artist_exclusions(text, self.exact_artist)
                         if not any(f.start < y and x < f.end for x, y in claimed)]
            if excluded:
                # the artist's words are the critique's: no entity read from them is asked for
                entities = [e for e in entities if id(e) not in gone and not any(
                    f.start <= e.get("start", -1) and e.get("end", 1 << 30) <= f.end for f in excluded)]
                taken = [(f.start, f.end) for f in excluded]
                found = [f for f in found if not any(f.start < y and x < f.end for x, y in taken)]
                found = sorted(found + excluded, key=lambda f: f.start)
            if not found:
                continue
            spans = [(f.start, f.end) for f in found]
            names_artist = any(e.get("entity") == "artist" for e in entities)
            kept = []
            for e in entities:
                a, b = e.get("start", 0), e.get("end", 0)
                whole = a == 0 and b >= len(text) and e.get("source") is None and \
                    e.get("extractor") == "MusicAttributeExtractor"
                inside = any(a < y and x < b for x, y in spans)
                if e.get("entity") in CRITIQUED_ATTRIBUTES and (inside or whole):
                    continue
                within = any(x <= a and b <= y for x, y in spans)
                if e.get("entity") in ("work", "unknown_mention") and within and not names_artist:
                    continue  # the critique's words read as a title
                if e.get("entity") == "artist" and any(x <= a and b <= y for (x, y), f in zip(spans, found)
                                                       if not f.critique.startswith("exclude_artist:")):
                    continue  # ... or as a name: "too poppy" names no artist Poppy
                kept.append(e)
            for f in found:
                kept.append({"entity": "critique", "value": f.critique, "start": f.start, "end": f.end,
                             "confidence": 1.0, "extractor": EXTRACTOR})
            m.set(ENTITIES, kept, add_to_output=True)
            self._as_request(m, found)
        return messages

    def _as_request(self, m: Message, found) -> None:
        """A critique asks for different music: ``request_music`` (or ``accept`` for "more like
        this"), as the simulated listeners mean it; not a bare rejection (``deny``), a greeting, a
        goodbye or "please rephrase"."""
        intent = dict(m.get(INTENT) or {})
        name, conf = intent.get("name"), float(intent.get("confidence") or 0.0)
        keep = {"request_music"} | ({"accept"} if all(f.critique == "more_like" for f in found) else set())
        if name in keep and conf >= self.config["min_intent_confidence"]:
            return
        top = max(conf if name == "request_music" else 0.0, self.config["critique_confidence"])
        m.set(INTENT, {"name": "request_music", "confidence": top}, add_to_output=True)
        # the others share what is left, so the fallback's ambiguity check sees a clear winner
        rest = [r for r in (m.get(INTENT_RANKING_KEY) or []) if r.get("name") != "request_music"]
        total = sum(float(r.get("confidence") or 0.0) for r in rest)
        scale = min(1.0, (1.0 - top) / total) if total > 0 else 1.0
        rest = [{**r, "confidence": float(r.get("confidence") or 0.0) * scale} for r in rest]
        m.set(INTENT_RANKING_KEY, [{"name": "request_music", "confidence": top}] + rest, add_to_output=True)
