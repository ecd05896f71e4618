"""Named artists and works (songs, albums) in a message, resolved against the catalogue.

Runs after ``MusicAttributeExtractor``. The tagger (``music_domain.mentions.MentionTagger``, a CRF
trained in ``rasa train`` on the real requests of MusicRecoNER, reusing the featurizer's MiniLM
states) finds mentions with their type; each is resolved against the catalogue
(``MentionResolver``: normalised + fuzzy). Output entities:

- ``artist`` (value: the catalogue artist), ``mention_type: artist``: fills the artist slot, a
  retrieval seed (tracks by that artist);
- ``work`` (value: the catalogue track name, with ``track_id`` and ``artist``): a retrieval seed
  (tracks near that one in the track vectors);
- ``unknown_mention`` (value: the listener's words, with ``mention_type``): named but not in the
  catalogue, so the assistant says it does not have it instead of matching something else.

A one-word catalogue artist found by the attribute extractor's exact-name gazetteer that is also a
common English word ("Anime", "Bush", "Archive") is dropped unless the tagger also reads it as an
artist mention in context: "no rush" or "music for my commute to Boston" seed nothing.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from music_domain.mentions import NER_DATA_DIR, MAX_TEXT, MentionResolver, MentionTagger, read_bio
from nlu_components.persistence import load_object, save_object

EXTRACTOR = "MusicMentionExtractor"


@lru_cache(maxsize=4)
def _catalog(path: Optional[str]):
    from music_domain.catalog import load_catalog

    return load_catalog(path)


@lru_cache(maxsize=4)
def _resolver(path: Optional[str], threshold: float) -> MentionResolver:
    cat = _catalog(path)
    return MentionResolver(list(cat["artist_name"]), list(zip(cat["track_name"], cat["artist_name"])), threshold)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class MusicMentionExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"catalog": None, "data_dir": None, "min_confidence": 0.5, "fuzzy_threshold": 85.0,
                "dims": 32}

    def __init__(self, config, model_storage: ModelStorage, resource: Resource,
                 tagger: Optional[MentionTagger] = None):
        self.config = config
        self.model_storage = model_storage
        self.resource = resource
        self.tagger = tagger

    @classmethod
    def create(cls, config, model_storage, resource, execution_context: ExecutionContext):
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config, model_storage, resource, execution_context, **kwargs):
        return cls(config, model_storage, resource, load_object(model_storage, resource, "tagger.pkl"))

    def train(self, training_data: TrainingData) -> Resource:
        directory = Path(self.config["data_dir"]) if self.config.get("data_dir") else NER_DATA_DIR
        sentences = read_bio(directory / "train.bio")  # the held-out file is never read here
        self.tagger = MentionTagger.with_gazetteers(_catalog(self.config.get("catalog")), directory,
                                                    dims=self.config["dims"]).fit(sentences)
        return save_object(self.model_storage, self.resource, "tagger.pkl", self.tagger)

    @property
    def resolver(self) -> MentionResolver:
        return _resolver(self.config.get("catalog"), float(self.config["fuzzy_threshold"]))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        from nlu_components.sentence_featurizer import TOKEN_STATES

        for m in messages:
            states = m.get(TOKEN_STATES)
            m.data.pop(TOKEN_STATES, None)
            try:
                self._process_one(m, states)
            except Exception:  # noqa: BLE001 - a mention never breaks the parse
                import logging

                logging.getLogger(__name__).exception("mention extraction failed; the parse goes on without it")
        return messages

    def mentions(self, text: str, states=None) -> List[Dict[str, Any]]:
        if self.tagger is None or not text or not text.strip():
            return []
        found = self.tagger.mentions(text[:MAX_TEXT], states)
        return [x for x in found if x["confidence"] >= self.config["min_confidence"]]

    def _process_one(self, message: Message, states) -> None:
        text = message.get(TEXT) or ""
        entities = list(message.get(ENTITIES) or [])
        mentions = self.mentions(text, states)
        artist_spans = [(x["start"], x["end"]) for x in mentions if x["type"] == "Artist"]
        entities = [e for e in entities if not self._ambiguous_catalogue_word(e, text, artist_spans)]
        taken = [(e.get("start", 0), e.get("end", 0)) for e in entities
                 if e.get("entity") in ("artist", "genre", "subgenre", "era", "energy", "mood", "activity")]
        have_artist = any(e.get("entity") == "artist" for e in entities)
        resolved_artists = {}
        for x in mentions:
            if x["type"] == "Artist":
                resolved_artists[(x["start"], x["end"])] = self.resolver.artist(x["text"])
        new = []
        for x in mentions:
            span = (x["start"], x["end"])
            overlaps = [t for t in taken if t[0] < span[1] and span[0] < t[1]]
            base = {"start": x["start"], "end": x["end"], "confidence": x["confidence"], "extractor": EXTRACTOR,
                    "raw_value": x["text"]}
            if x["type"] == "Artist":
                r = resolved_artists[span]
                if overlaps:
                    continue  # already an attribute (a catalogue artist or a genre word)
                if r.resolved:
                    if not have_artist:
                        new.append({**base, "entity": "artist", "value": r.value, "mention_type": "artist",
                                    "confidence_normalisation": round(r.score / 100.0, 3)})
                        have_artist = True
                else:
                    new.append({**base, "entity": "unknown_mention", "value": x["text"], "mention_type": "artist"})
            else:
                by = next((r.value for (a, b), r in resolved_artists.items() if r.resolved and a >= span[1]), None)
                r = self.resolver.work(x["text"], by=by)
                if r.resolved:
                    new.append({**base, "entity": "work", "value": r.value, "artist": r.artist,
                                "track_id": str(_catalog(self.config.get("catalog"))["track_id"].iloc[r.row]),
                                "mention_type": "work", "confidence_normalisation": round(r.score / 100.0, 3)})
                elif not overlaps:
                    new.append({**base, "entity": "unknown_mention", "value": x["text"], "mention_type": "work"})
        message.set(ENTITIES, entities + new, add_to_output=True)

    @staticmethod
    def _ambiguous_catalogue_word(entity: Dict[str, Any], text: str, artist_spans) -> bool:
        """A catalogue artist that is one common English word, not read as an artist in context."""
        if entity.get("entity") != "artist":
            return False
        raw = str(entity.get("raw_value") or text[entity.get("start", 0):entity.get("end", 0)])
        words = raw.lower().split()
        if len(words) != 1:
            return False
        from nlu_components.input_guard import english_words

        if words[0].strip("'") not in english_words():
            return False
        a, b = entity.get("start", 0), entity.get("end", 0)
        return not any(s < b and a < e for s, e in artist_spans)
