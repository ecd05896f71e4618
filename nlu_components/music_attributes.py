"""Music attributes from an utterance, normalised to the catalogue's vocabulary.

1. Entities found by DIET (genre, energy, mood, era, activity, artist, option) are
   normalised: "nineties" -> 1990s, "chill" -> laid_back, "alt rock" -> genre rock +
   subgenre alt-rock, "the second one" -> option 1. A value that is not in the vocabulary
   is mapped to the nearest canonical value by embedding similarity, or dropped if none is
   close (confidence = cosine).
2. Catalogue artists and genres that DIET missed are found by an exact phrase match
   against the catalogue's own names (the vocabulary comes from the catalogue, not a
   hand-typed list).
3. A free description with no attribute ("something for a rainy Sunday") is mapped to
   activity/mood/energy by similarity to short prototype descriptions, with a confidence.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from music_domain.attributes import ATTRIBUTES, Vocabulary, display_genre
from music_domain.catalog import load_catalog
from music_domain.mentions import tokenize
from nlu_components.music_mentions import POLITE_WORDS

EXTRACTOR = "MusicAttributeExtractor"
ATTRIBUTE_ENTITIES = tuple(a for a in ATTRIBUTES if a != "subgenre")  # DIET entities; subgenre comes from genre
OPTION_WORDS = {"first": 0, "1": 0, "one": 0, "former": 0, "option one": 0, "the first one": 0,
                "second": 1, "2": 1, "two": 1, "latter": 1, "last": 1, "option two": 1, "number two": 1,
                "the second one": 1}
ERA_PATTERN = re.compile(r"(?<![\w'])(?:'?\d0'?s|(?:19|20)\d0'?s|sixties|seventies|eighties|nineties|noughties)(?![\w])",
                         re.I)
# intents whose words are read for energy / mood / activity phrasings the model did not tag
PHRASE_INTENTS = ("request_music", "surprise_me", "choose_option", "accept", "affirm", None)
DETERMINERS = re.compile(r"^(a|an|the|some|my|for|to)\s+", re.I)
# a tagged span made only of these says nothing: "for a workout" had its "a" tagged as an
# activity, which the nearest-value fallback then read as "party"
FUNCTION_WORDS = frozenset("a an the some my for to of in on at with and or me i it is".split())
PROTOTYPES = {
    ("activity", "relax"): "music to relax and unwind on a lazy rainy sunday afternoon",
    ("activity", "workout"): "music to get pumped for a hard workout at the gym or a run",
    ("activity", "study"): "quiet background music to focus, study or work to",
    ("activity", "party"): "music to dance to at a party with friends",
    ("activity", "sleep"): "soothing music to fall asleep to at bedtime",
    ("activity", "driving"): "music for a long drive or road trip in the car",
    ("activity", "dinner"): "music for cooking dinner or a dinner date",
    ("mood", "happy"): "happy cheerful feel-good sunny music",
    ("mood", "melancholic"): "sad melancholic music for a heartbreak",
    ("energy", "upbeat"): "upbeat energetic fast lively music",
    ("energy", "laid_back"): "laid back calm mellow slow music",
}
# Requests that name no attribute. A free description maps to an attribute only when it is
# clearly closer to that attribute's prototype than to all of these ("help me find music"
# is close to "music for a long drive" merely through the word "music").
GENERIC_REQUESTS = ("help me find music", "play some music", "recommend me some songs", "music please",
                    "I want to listen to something", "find me a playlist", "any music suggestions",
                    "can you recommend some music")


@lru_cache(maxsize=4)
def _vocabulary(catalog_path: Optional[str]) -> Vocabulary:
    return Vocabulary.from_catalog(load_catalog(catalog_path))


@lru_cache(maxsize=4)
def _canonical_embeddings(catalog_path: Optional[str]) -> Dict[str, Tuple[List[str], np.ndarray]]:
    from embeddings.text_encoder import encode

    voc = _vocabulary(catalog_path)
    out = {}
    for attr, values in (("genre", list(voc.subgenres)), ("energy", ["laid_back", "upbeat"]),
                         ("mood", ["happy", "melancholic"]),
                         ("activity", sorted({v for v in voc.surface_forms("activity").values()}))):
        out[attr] = (values, encode([display_genre(v).replace("_", " ") + " music" for v in values]))
    keys = list(PROTOTYPES)
    out["_prototypes"] = (keys, encode([PROTOTYPES[k] for k in keys]))
    out["_generic"] = (list(GENERIC_REQUESTS), encode(list(GENERIC_REQUESTS)))
    return out


# After a catalogue phrase: a possessive "s" after any name, a bare "s" after 6+ word characters
# that do not end in "s" ("radioheads", not "muses"); ``process`` keeps a bare-"s" hit only for an artist.
POSSESSIVE = r"(?:['’]s|(?<=\w{5}[^\Ws])s)?"


def _without_possessive(key: str) -> str:
    return re.sub(r"(?:['’]s|s)$", "", key)


@lru_cache(maxsize=4)
def _gazetteer(catalog_path: Optional[str]):
    from music_domain.mentions import common_words, tokenize

    voc = _vocabulary(catalog_path)
    names = {}
    common = common_words()
    for artist in voc.artists:
        # An artist named only with everyday words ("Home", "Classic", "Like") is not found by an
        # exact phrase match (a real catalogue has thousands): the mention tagger, which reads
        # the context, finds those.
        words = [t.text for t in tokenize(artist)]
        if len(artist) >= 4 and re.search(r"[A-Za-z]", artist) and not (words and all(w in common for w in words)):
            names[artist.lower()] = ("artist", artist)
    # A catalogue genre named like an activity, a mood or an energy ("party", "sleep", "sad",
    # "chill") is read as that, and the catch-all family "other" is never a word's genre.
    other_meaning = {f for a in ("activity", "mood", "energy") for f in voc.surface_forms(a)} | {"other"}
    for form in voc.surface_forms("subgenre"):
        if len(form) >= 3 and form not in other_meaning:
            names.setdefault(form, ("genre", form))
    for form in voc.surface_forms("genre"):
        if len(form) >= 3 and form not in other_meaning:
            names.setdefault(form, ("genre", form))
    # Energy, mood and activity phrasings of the vocabulary ("working out", "feeling blue",
    # "wind down"): found in a request even where the model tagged nothing. Words of 3 letters
    # or fewer ("run", "fun") are left to the model, which sees their context.
    for attr in ("activity", "mood", "energy"):
        for form in voc.surface_forms(attr):
            if len(form) >= 4:
                names.setdefault(form, (attr, form))
    # an artist's name with a possessive or plural "s" as people type it: "radiohead's", "radioheads
    # stuff", "CCR's" (a bare "s" only after names of 6 characters or more: "muses" is a word)
    # (one suffix after the whole alternation: one per name made matching three times slower; a
    # suffixed hit counts only if it is an artist's name, see ``process``)
    alternation = "|".join(_phrase_pattern(n) for n in sorted(names, key=len, reverse=True))
    return names, re.compile(rf"(?<![\w]){'(?:' + alternation + ')'}{POSSESSIVE}(?![\w])", re.I)


def _phrase_pattern(name: str) -> str:
    """A name's words separated by any space, hyphen or slash ("hip/hop", "up-tempo")."""
    return r"[\s/-]+".join(re.escape(w) for w in re.split(r"[\s/-]+", name))


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w&\s'-]+", " ", text.lower().replace("/", " "))).strip()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class MusicAttributeExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"catalog": None, "similarity_threshold": 0.5, "description_threshold": 0.5,
                "description_margin": 0.1,
                "gazetteer": True}

    def __init__(self, config: Dict[Text, Any]):
        self.config = config

    @classmethod
    def create(cls, config, model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "MusicAttributeExtractor":
        return cls(config)

    @property
    def vocabulary(self) -> Vocabulary:
        return _vocabulary(self.config.get("catalog"))

    def normalise(self, attribute: str, raw: str) -> List[Tuple[str, str, float]]:
        """[(entity, canonical value, confidence)] for one raw entity value: the vocabulary's own
        reading of the span, else the vocabulary phrases inside it or another attribute's reading
        of it ("relax" tagged as an energy is the activity), else a typo of a vocabulary word,
        else the nearest value by embedding."""
        text = DETERMINERS.sub("", str(raw).strip())
        if all(w in FUNCTION_WORDS for w in _key(text).split()):
            return []
        if attribute in ("genre", "energy", "mood", "activity"):
            exact = self._normalise(attribute, raw, text, nearest=False)
            if exact:
                return exact
            inside = self._phrases_inside(text)
            if inside:
                return inside
            typo = self._typo(attribute, text)
            if typo:
                return typo
        elif attribute == "artist" and len(_key(text).split()) == 1 and not (
                self.vocabulary.normalise("artist", text) or self.vocabulary.normalise("artist", raw)):
            # a one-word span tagged as an artist that no artist is called but that is another
            # attribute's phrase ("bangers" is upbeat, not a typo of BANNERS)
            whole = self._phrases_inside(text)
            if whole:
                return whole
        return self._normalise(attribute, raw, text)

    def _phrases_inside(self, text: str) -> List[Tuple[str, str, float]]:
        """Vocabulary phrases of any attribute within a span, longest first ("classic country"
        -> country; "up-tempo R&B" -> upbeat + soul and jazz)."""
        voc = self.vocabulary
        words = _key(text).split()
        out, i, seen = [], 0, set()
        while i < len(words):
            for n in range(min(4, len(words) - i), 0, -1):
                phrase = " ".join(words[i:i + n])
                found = []
                for attr in ("genre", "energy", "mood", "activity"):
                    if attr == "genre":
                        fam, sub = voc.normalise_genre(phrase)
                        if fam and fam != "other":
                            found = [("genre", fam, 1.0)] + ([("subgenre", sub, 1.0)] if sub else [])
                    else:
                        value = voc.normalise(attr, phrase)
                        if value:
                            found = [(attr, value, 1.0)]
                    if found:
                        break
                if found:
                    out += [f for f in found if f[0] not in seen]
                    seen.update(f[0] for f in found)
                    i += n
                    break
            else:
                i += 1
        return out

    def _typo(self, attribute: str, text: str) -> List[Tuple[str, str, float]]:
        """A misspelt vocabulary word ("contry", "hiphop", "raps"): fuzzy ratio >= 85 to a form of
        at least 4 letters, same first letter, length within one."""
        from rapidfuzz import fuzz, process

        key = _key(text)
        if len(key) < 4:
            return []
        forms = self.vocabulary.surface_forms("subgenre" if attribute == "genre" else attribute)
        if attribute == "genre":
            forms = {**forms, **self.vocabulary.surface_forms("genre")}
        for form, score, _ in process.extract(key, [f for f in forms if len(f) >= 4], scorer=fuzz.ratio,
                                              score_cutoff=85, limit=3):
            if form[0] == key[0] and abs(len(form) - len(key)) <= 1:
                return [(n, v, round(score / 100.0, 3)) for n, v, _ in self._normalise(attribute, form, form)]
        return []

    def _normalise(self, attribute: str, raw: str, text: str, nearest: bool = True) -> List[Tuple[str, str, float]]:
        voc = self.vocabulary
        if attribute == "option":
            idx = OPTION_WORDS.get(text.lower(), OPTION_WORDS.get(str(raw).strip().lower()))
            return [("option", str(idx), 1.0)] if idx is not None else []
        if attribute == "genre":
            fam, sub = voc.normalise_genre(text)
            if fam:
                return [("genre", fam, 1.0)] + ([("subgenre", sub, 1.0)] if sub else [])
        elif attribute in ("energy", "mood", "activity", "era", "artist"):
            value = voc.normalise(attribute, text) or voc.normalise(attribute, raw)
            if value:
                return [(attribute, value, 1.0)]
            if attribute == "artist":
                return self._fuzzy_artist(text)
            if attribute == "era":
                return []
        return self._nearest(attribute, text) if nearest else []

    def _fuzzy_artist(self, text: str) -> List[Tuple[str, str, float]]:
        import difflib

        hit = difflib.get_close_matches(text.lower(), [a.lower() for a in self.vocabulary.artists], n=1, cutoff=0.85)
        if not hit:
            return []
        artist = next(a for a in self.vocabulary.artists if a.lower() == hit[0])
        return [("artist", artist, 0.85)]

    def _nearest(self, attribute: str, text: str) -> List[Tuple[str, str, float]]:
        from embeddings.text_encoder import encode
        from music_domain.attributes import SUBGENRE_TO_FAMILY

        table = _canonical_embeddings(self.config.get("catalog"))
        if attribute not in table or not text.strip():
            return []
        values, emb = table[attribute]
        sims = emb @ encode([text + " music"])[0]
        i = int(np.argmax(sims))
        if sims[i] < self.config["similarity_threshold"]:
            return []
        conf = float(round(sims[i], 3))
        if attribute == "genre":
            return [("genre", SUBGENRE_TO_FAMILY.get(values[i], values[i]), conf), ("subgenre", values[i], conf)]
        return [(attribute, values[i], conf)]

    def _describe(self, message: Message) -> List[Dict[str, Any]]:
        from nlu_components.sentiment import message_embedding

        canonical = _canonical_embeddings(self.config.get("catalog"))
        keys, emb = canonical["_prototypes"]
        query = message_embedding(message)
        sims = emb @ query
        generic = float((canonical["_generic"][1] @ query).max())
        out, seen = [], set()
        text = message.get(TEXT) or ""
        for i in np.argsort(-sims):
            attr, value = keys[i]
            if sims[i] < self.config["description_threshold"] or attr in seen \
                    or sims[i] < generic + self.config["description_margin"]:
                continue
            seen.add(attr)
            out.append({"entity": attr, "value": value, "start": 0, "end": len(text),
                        "confidence": float(round(sims[i], 3)), "extractor": EXTRACTOR})
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._process_one(message)
        return messages

    def _process_one(self, message: Message) -> None:
        """Merge DIET's spans, the catalogue gazetteer and the era pattern into one normalised
        set of attribute entities. Every attribute entity in the output is this component's
        (``extractor``), with the span's source kept in ``source``: the output is the
        pipeline's final word on attributes, and ``rasa test nlu`` evaluates it as such."""
        text = message.get(TEXT) or ""
        intent_name = (message.get(INTENT) or {}).get("name")
        others: List[Dict[str, Any]] = []
        spans: List[Dict[str, Any]] = []  # candidate attribute spans: DIET first, then gazetteer
        for ent in message.get(ENTITIES, []):
            if ent.get("entity") in ATTRIBUTE_ENTITIES + ("option",):
                words = [t.text for t in tokenize(text[ent.get("start", 0):ent.get("end", 0)])]
                if words and all(w in POLITE_WORDS for w in words):
                    continue  # "rock bitte": a please, not the subgenre british by resemblance
                spans.append({**ent, "source": ent.get("extractor")})
            else:
                others.append(ent)
        if self.config["gazetteer"] and text and len(text) <= 2000:
            names, pattern = _gazetteer(self.config.get("catalog"))
            for m in pattern.finditer(text):
                hit_key = re.sub(r"[\s/-]+", " ", m.group(0).lower())
                # a name with a suffix: an artist's ("radioheads"), or any name's possessive ("rock's")
                bare = names.get(_without_possessive(hit_key))
                bare = bare if bare and (bare[0] == "artist" or re.search(r"['’]s$", hit_key)) else None
                kind, form = names.get(m.group(0).lower()) or names.get(hit_key) or bare or \
                    next((v for k, v in names.items() if re.sub(r"[\s/-]+", " ", k) == hit_key), (None, None))
                if kind is None:
                    continue
                if kind in ("activity", "mood", "energy") and intent_name not in PHRASE_INTENTS:
                    continue
                hit = {"entity": kind, "value": form, "start": m.start(), "end": m.end(), "confidence": 1.0,
                       "source": "catalogue"}
                overlapping = [e for e in spans if e["start"] < m.end() and m.start() < e["end"]]
                # A catalogue name that contains a shorter model span wins ("Pretty Ricky" over
                # "Ricky"). A name of another kind inside a model span is added beside it
                # ("rock" inside an energy span "laid back rock"). Otherwise the model's span stands.
                if all(m.start() <= e["start"] and e["end"] <= m.end() and (e["end"] - e["start"]) <
                       (m.end() - m.start()) for e in overlapping):
                    spans = [e for e in spans if e not in overlapping] + [hit]
                elif all(e["entity"] != kind for e in overlapping):
                    spans.append(hit)
        found: List[Dict[str, Any]] = []
        covered = []
        for ent in sorted(spans, key=lambda e: e.get("start", 0)):
            normalised = self.normalise(ent["entity"], ent.get("value", ""))
            for name, value, conf in normalised:
                found.append({**ent, "entity": name, "value": value, "extractor": EXTRACTOR,
                              "confidence_normalisation": conf, "raw_value": ent.get("value")})
            if normalised:
                covered.append((ent.get("start", 0), ent.get("end", 0)))
        for m in ERA_PATTERN.finditer(text[:2000]):
            if not any(a < m.end() and m.start() < b for a, b in covered):
                era = self.vocabulary.normalise("era", m.group(0))
                if era:
                    found.append({"entity": "era", "value": era, "start": m.start(), "end": m.end(),
                                  "confidence": 1.0, "extractor": EXTRACTOR, "source": "era_pattern"})
        # Words inside a critique ("too [slow]", "no more [country]") are not requests for them
        # (nlu_components.critiques): dropped before one value per type is kept, so "not
        # country, rock instead" keeps rock; and a critique is not a free description.
        from music_domain import critiques

        critiqued = [(f.start, f.end) for f in critiques.parse(text, self.vocabulary)] if text.strip() else []
        found = [e for e in found if e["entity"] not in ATTRIBUTE_ENTITIES + ("subgenre",)
                 or not any(a < e.get("end", 0) and e.get("start", 0) < b for a, b in critiqued)]
        intent = (message.get(INTENT) or {}).get("name")
        has_attribute = any(e["entity"] in ATTRIBUTE_ENTITIES for e in found)
        if not has_attribute and not critiqued and intent == "request_music" and text.strip() and len(text) <= 2000:
            found.extend(self._describe(message))
        # one value per entity type: the first in the message that names a value exactly, else the
        # first guessed ("quiero jazz": DIET's span "quiero", the subgenre spanish by resemblance,
        # came before the genre word "jazz")
        def named_exactly(e) -> bool:
            return e.get("source") == "era_pattern" or float(e.get("confidence_normalisation", 0.0)) >= 0.99

        exact = {e["entity"] for e in found if named_exactly(e)}
        unique, seen = [], set()
        for e in found:
            if e["entity"] in exact and not named_exactly(e):
                continue
            if e["entity"] in seen:
                continue
            seen.add(e["entity"])
            unique.append(e)
        message.set(ENTITIES, others + unique, add_to_output=True)
