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
  catalogue, so the assistant says it does not have it instead of matching something else; an
  artist's ``vein`` (genre family, ``music_domain.mentions.infer_vein``) when public track lists
  know it, which the dialogue uses as the genre ("here's something in the same vein").

A one-word catalogue artist found by the attribute extractor's exact-name gazetteer that is also an
ordinary word ("Ghost", "Dream", "Poison", "Crush") is dropped unless the tagger also reads it as an
artist mention in context, so "no rush" or "I had a dream" seed nothing; an unresolved mention made
only of ordinary words ("Good morning") needs a confident tagger to count.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from music_domain.mentions import (NER_DATA_DIR, MAX_MENTION, MAX_TEXT, MentionResolver, MentionTagger, infer_vein,
                                   read_bio, tokenize)
from nlu_components.persistence import load_object, save_object

EXTRACTOR = "MusicMentionExtractor"
NOT_ABOUT_MUSIC = ("greet", "goodbye", "bot_challenge", "help", "ask_track", "out_of_scope")
GUESSABLE = ("genre", "subgenre", "energy", "mood", "activity")  # attributes the extractor can guess by resemblance


@lru_cache(maxsize=4)
def _catalog(path: Optional[str]):
    from music_domain.catalog import load_catalog

    return load_catalog(path)


_LIKE_CUE = re.compile(r"(?:\blike|\bsimilar to|\bsimilar|\bmore of|\bmore from|\bin the vein of|\bsounds like)\s*$", re.I)
_NEGATED = re.compile(r"(?:\bnot|n't|\bdont|\bnever|\bhate|\bnothing|\bno)\s+(?:\w+\s+)?$", re.I)


# "why not Drake?", "how about Adele": a suggestion, which the intent model can read as a "no"
_SUGGESTS = re.compile(r"\s*(?:why not|how about|what about)\b", re.I)


def _after_cue(text: str, entity: Dict[str, Any], cues: "re.Pattern") -> bool:
    """One of ``cues`` right before the mention, with no negation right before the cue."""
    before = text[:int(entity.get("start", 0))]
    cue = cues.search(before)
    return bool(cue) and not _NEGATED.search(before[:cue.start()])


def _asked_like(text: str, entity: Dict[str, Any]) -> bool:
    """The mention is asked for ("something like Boris", "more of Radiohead"), not refused: a cue
    of likeness right before it, with no negation right before the cue."""
    return _after_cue(text, entity, _LIKE_CUE)


# what a song is asked for with: "like", "similar to", "play", "put on", "hear" right before it
_SONG_CUE = re.compile(r"(?:\blike|\bsimilar to|\bsimilar|\bin the vein of|\bplay|\bput on|\bhear)\s*$", re.I)


def _asked_as_a_song(text: str, entity: Dict[str, Any]) -> bool:
    """A name said right after a cue a song is asked for with, not negated: "something like take
    five", "play take five"; not "music from Kenny G" or "anything by X" (an artist's cues)."""
    return _after_cue(text, entity, _SONG_CUE)


def _first_artist_fills_the_slot(kept: List[Dict[str, Any]], new: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """``new``, where no artist without a role is left among ``kept + new`` and the slot's artist was
    dropped, with its first artist filling the slot (its role and seed track dropped)."""
    if any(e.get("entity") == "artist" and not e.get("role") for e in kept + new):
        return new
    i = next((i for i, e in enumerate(new) if e["entity"] == "artist"), None)
    if i is None:
        return new
    return new[:i] + [{k: v for k, v in new[i].items() if k not in ("role", "track_id")}] + new[i + 1:]


MAX_BARE_TITLE_WORDS = 10  # a longer message says more than a title
# the words before a one-word title that make it a description: "something happy by pharrell"
_SOME = frozenset({"something", "anything", "some", "more", "any", "other", "another"})
# Words that point back at what was named or played ("something older by her", "more like them"):
# catalogue artists too (Her, Them, It, This, You), but such a word names nobody in a sentence.
# Said alone, capitalised mid-sentence ("I love Her"), or as a title with other words, it may.
PRONOUNS = frozenset("""
i me my you your he him his she her hers it its we us our they them their theirs this that these those
""".split())


def _a_pronoun(text: str, start: int, end: int) -> bool:
    """Are the words of ``text[start:end]`` only pronouns, in lower case or at the message's
    start, with other words beside them (a sentence, not a name said alone)?"""
    words = _words(text[start:end])
    if not words or not all(w in PRONOUNS for w in words):
        return False
    said = text[start:end].strip()
    if said[:1].isupper() and text[:start].strip() and not text.isupper() and words != ["i"]:
        return False  # "songs like Her": capitalised inside a sentence, the band ("SOMETHING BY HER" is shouted)
    return bool(_words(text[:start] + " " + text[end:]))


# a refusal of "X by ARTIST" said right before it ("not creep by radiohead", "i don't want creep by
# radiohead", "i didnt ask for ...", "enough of ...", "i hate songs by adele"); "no, play help by the
# beatles" asks for it, and a title's own words ("No Woman No Cry") refuse nothing
_REFUSED = re.compile(r"(?<![\w'’])(?:not|no|never|nothing|none|hate|without|except|stop|skip|enough(?: of)?|"
                      r"no more|anything but|sick of|tired of|(?:do|did|ca|wo|does|is|are|have)n['’]?t|dont|cant)"
                      r"\s+(?:[\w'’]+\s+){0,2}$", re.I)
# the intents a song named by its artist is asked for under, whatever the intent model's confidence
# ("love it, now play help by the beatles": accept); a yes only when it does not start with one;
# under any other, only when it was unsure ("play hello by adele": asking what is playing, 0.32)
ASKS_FOR_A_SONG = ("request_music", "out_of_scope", "surprise_me", "choose_option", "accept")
# "something to ..." / "music to ...": what the music is for, not what it is called
_PURPOSE_CUE = re.compile(r"\b(?:something|anything|music|songs?|tunes?|tracks?|stuff)\s+to\s*$", re.I)


def _words(text: str) -> List[str]:
    """The tagger's tokens of ``text`` (lower case, apostrophes dropped)."""
    return [t.text for t in tokenize(text)]


def _a_purpose(text: str, mention: Dict[str, Any]) -> bool:
    """A title of everyday words right after "something to" ("something to wake me up", "something
    to make me happy") says what the music is for: the tagger read both as songs ("Wake Me Up",
    "Make Me Happy"), and "something to make me happy" played a song by that name."""
    from music_domain.mentions import common_words

    words = _words(mention["text"])
    return bool(words) and all(w in common_words() for w in words) \
        and bool(_PURPOSE_CUE.search(text[:int(mention.get("start", 0))]))


def _a_please(text: str, mention: Dict[str, Any]) -> bool:
    """A title made only of "please" / "thanks" in another language ("Por Favor", "Porfa",
    "Merci") said beside other words than the words of asking is a please: "reggaeton por favor"
    asks for reggaeton, while "play porfa" asks for Feid's song."""
    words = _words(mention["text"])
    if not words or not all(w in POLITE_WORDS for w in words):
        return False
    a, b = int(mention.get("start", 0)), int(mention.get("end", 0))
    rest = _words(text[:a] + " " + text[b:])
    return any(w not in REQUEST_WORDS and w not in POLITE_WORDS for w in rest)


def _only_request_words(words: Sequence[str]) -> bool:
    """Are the (tokenized) words only the words of asking for music?"""
    return bool(words) and all(w in REQUEST_WORDS for w in words)


# "Please" and "thanks" in the languages listeners mix into English ("reggaeton por favor", "rock
# bitte"): the tagger read "por favor" as the song "Por Favor" and the attribute extractor "bitte"
# as the subgenre british by resemblance. Lower case, apostrophes dropped, as ``tokenize`` gives them.
POLITE_WORDS = frozenset("""
por favor porfa porfavor porfis gracias bitte danke svp merci favore grazie obrigado obrigada
alsjeblieft kiitos
""".split())


# The words of asking for music. An unresolved mention made only of these is the request itself
# ("play me some", "something like"), never an artist or a title the catalogue lacks; a title made
# of them that the catalogue has still resolves (that check comes first).
REQUEST_WORDS = frozenset("""
a an the some any something anything more other another this that these those
play playing played put on start spin queue throw give get find show recommend suggest
me us my our i i'm im we you your can could would will please pls just maybe really
want wanna need like love similar to by from of for with and or kind sort stuff
music song songs track tracks tune tunes album albums artist artists band bands sound sounds
listen listening hear hearing let let's lets s
hey hi hello yo oh ok okay so well um uh hmm also too now
""".split())
# A reply that starts with one of these is a yes, whatever artist it names ("yes, love Radiohead").
YES_WORDS = frozenset({"yes", "yeah", "yep", "yup", "sure", "ok", "okay", "absolutely", "definitely"})


def _starts_with_yes(text: str) -> bool:
    """Does the message start with a yes ("yes, love Radiohead")?"""
    return (text.lower().split() or [""])[0].strip(",.!") in YES_WORDS


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset:
    """Words people use as plain words: the input guard's common words, VADER's lexicon, and words
    tagged O at least twice in the tagger's training requests ("rush", "ghost", "dream")."""
    from collections import Counter

    from nlu_components.input_guard import COMMON_ENGLISH

    words = set(COMMON_ENGLISH)
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        words.update(SentimentIntensityAnalyzer().lexicon)
    except ImportError:
        pass
    counts = Counter()
    path = NER_DATA_DIR / "train.bio"
    if path.exists():
        for tokens, tags in read_bio(path):
            counts.update(w for w, t in zip(tokens, tags) if t == "O")
    words.update(w for w, c in counts.items() if c >= 2)
    return frozenset(words)


def only_ordinary_words(text: str) -> bool:
    """Is ``text`` made only of ordinary words (``ordinary_words``, tokenised as the tagger's
    corpus)? "Love" or "no rush" name nobody by themselves; "Swans" or "Nirvana" may."""
    words = _words(text)
    return bool(words) and all(w in ordinary_words() for w in words)


@lru_cache(maxsize=4)
def _resolver(path: Optional[str], threshold: float) -> MentionResolver:
    cat = _catalog(path)
    return MentionResolver(list(cat["artist_name"]), list(zip(cat["track_name"], cat["artist_name"])), threshold,
                           popularity=list(cat["popularity"]) if "popularity" in cat else None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class MusicMentionExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # an unresolved mention made only of ordinary words ("good morning") needs more confidence
        # a message that is only a catalogue artist's name is a request for them unless the intent
        # model was at least this sure it is something else (FallbackClassifier's threshold is 0.45)
        return {"catalog": None, "data_dir": None, "min_confidence": 0.5, "min_confidence_ordinary": 0.8,
                "fuzzy_threshold": 85.0, "dims": 32, "unsure_intent": 0.5}

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
        # a name that is both, and far better known as a song, asked for as a song is the song
        # ("something like take five"); "music from Kenny G" still names the artist
        mentions = [{**x, "type": "WoA", "title_over_artist": True}
                    if x["type"] == "Artist" and _asked_as_a_song(text, x) and self.resolver.title_over_artist(x["text"])
                    else x for x in self.mentions(text, states)]
        # "something older by her" points back at what was played: no artist "Her"
        mentions = [x for x in mentions if not _a_pronoun(text, x["start"], x["end"])]
        entities = [e for e in entities if not (e.get("entity") == "artist"
                                                and _a_pronoun(text, e.get("start", 0), e.get("end", 0)))]
        songs = []  # (start, end, the song's artist) of titles that are surely songs, not the artist
        artist_spans = [(x["start"], x["end"]) for x in mentions if x["type"] == "Artist"]
        mention_spans = [(x["start"], x["end"]) for x in mentions]
        work_spans = [(x["start"], x["end"]) for x in mentions if x["type"] != "Artist"]
        intent = (message.get(INTENT) or {}).get("name")
        song = self._song_by_artist(text)
        unsure = float((message.get(INTENT) or {}).get("confidence") or 0.0) < self.config["unsure_intent"]
        if song is not None and (song[0] is not None or unsure):
            self._name_the_song_by(message, song, entities, text)
            return
        resolved_artists = {}
        for x in mentions:
            if x["type"] == "Artist":
                resolved_artists[(x["start"], x["end"])] = self.resolver.artist(x["text"])
        entities = [e for e in entities if not self._ambiguous_catalogue_word(e, text, artist_spans,
                                                                              intent in NOT_ABOUT_MUSIC)
                    and not self._guessed_attribute_on_mention(e, mention_spans)
                    and not self._guessed_artist_on_work(e, work_spans)
                    and not self._part_of_a_longer_artist(e, resolved_artists)]
        taken = [(e.get("start", 0), e.get("end", 0)) for e in entities
                 if e.get("entity") in ("artist", "genre", "subgenre", "era", "energy", "mood", "activity")]
        have_artist = any(e.get("entity") == "artist" for e in entities)
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
                    entity = {**base, "entity": "artist", "value": r.value, "mention_type": "artist",
                              "confidence_normalisation": round(r.score / 100.0, 3)}
                    if not have_artist:
                        new.append(entity)  # fills the artist slot
                        have_artist = True
                    else:
                        # a further artist ("I love Radiohead ... kinda like Aphex Twin"): with the
                        # role "seed" it fills no slot; its best-known track is a retrieval seed
                        seed = self._artist_seed(r.value) if self._believable_everyday_name(x) else None
                        if seed is not None:  # "... and other artists like her" names no artist "Her"
                            new.append({**entity, "role": "seed", "track_id": seed})
                elif self._believable(x, intent):
                    unknown = {**base, "entity": "unknown_mention", "value": x["text"], "mention_type": "artist"}
                    vein = infer_vein(x["text"])  # its genre family from public track lists, if known
                    new.append({**unknown, "vein": vein} if vein else unknown)
            else:
                by = next((r.value for (a, b), r in resolved_artists.items() if r.resolved and a >= span[1]), None)
                r = self.resolver.work(x["text"], by=by)
                if r.resolved and by is None and not self._believable_everyday_name(x):
                    continue  # "something like Aphex Twin please": "Please" is a song, not asked for
                if r.resolved and by is None and _a_purpose(text, x):
                    continue  # "something to wake me up" asks for music that does, not for "Wake Me Up"
                if r.resolved and by is None and _only_request_words(_words(x["text"])):
                    continue  # "put on hotel california": "Put On" (Jeezy) is the asking, not a song asked for
                if r.resolved and by is None and _a_please(text, x):
                    continue  # "reggaeton por favor" asks for reggaeton, not for the song "Por Favor"
                if r.resolved:
                    if x.get("title_over_artist") or by is not None:
                        songs.append((x["start"], x["end"], r.artist))
                    work = {**base, **self._work_entity(r)}
                    # "something like Creep" asks for music like it, "play Creep" for the song
                    new.append({**work, "like": True} if _asked_like(text, x) else work)
                elif not overlaps and self._believable(x, intent):
                    new.append({**base, "entity": "unknown_mention", "value": x["text"], "mention_type": "work"})
        # the attribute extractor's exact match of an artist of the same name on a title that is
        # surely a song ("redbone by childish gambino", "like take five") goes
        entities = [e for e in entities if not (e.get("entity") == "artist" and any(
            a < e.get("end", 0) and e.get("start", 0) < b and e.get("value") != by for a, b, by in songs))]
        if songs:  # the artist that took the slot was that title: the first further artist fills it
            new = _first_artist_fills_the_slot(entities, new)
        titles = [(e["start"], e["end"]) for e in new if e["entity"] == "work"]
        # words of a catalogue title the listener named are the title, not a request for what they
        # say: "something similar to wake me up" asks for no energy
        entities = [e for e in entities if not (e.get("entity") in GUESSABLE and any(
            a <= e.get("start", 0) and e.get("end", 0) <= b for a, b in titles))]
        if intent == "out_of_scope":
            # "i like swans and daughters" (read as out of scope): a catalogue artist the tagger is
            # sure of, not made of ordinary words, is named; anything else is dropped as below
            new = [e for e in new if e["entity"] == "artist"
                   and e["confidence"] >= self.config["min_confidence_ordinary"]
                   and not only_ordinary_words(e["raw_value"])]
            # the artist that took the slot was dropped: the first one kept fills it
            new = _first_artist_fills_the_slot(entities, new)
        elif intent in NOT_ABOUT_MUSIC:  # "Hi wizard", "Good Morning" name no artist
            new = []
        bare = self._bare_artist(text, entities + new, message.get(INTENT) or {})
        if bare is not None:
            self._name_the_bare_artist(message, bare, entities + new, text)
            return
        title = self._bare_title(text, entities + new, message.get(INTENT) or {})
        if title is not None:
            self._name_the_bare_title(message, title, entities + new, text)
            return
        message.set(ENTITIES, entities + new, add_to_output=True)
        named = [e for e in entities + new if e.get("entity") in ("artist", "work", "unknown_mention")]
        artist_named = any(e.get("entity") == "artist" for e in entities + new)
        said_yes = _starts_with_yes(text)
        if intent in ("accept", "surprise_me", "choose_option") and named or intent == "affirm" and artist_named and not said_yes \
                or intent == "out_of_scope" and artist_named \
                or intent == "deny" and any(_asked_like(text, e) for e in named) \
                or intent == "deny" and artist_named and _SUGGESTS.match(text):
            # "play something like Aphex Twin" asks for music like a named artist, not to keep
            # what is playing: a request. So does "(no,) something like Boris", which the intent
            # classifier can read as a "no"; "not like Boris", "I don't like Boris" stay a "no".
            # "anything by queen" (read as "surprise me") and "i like swans" (read as a yes) name
            # what to play; a yes counts only with a catalogue artist, since "i like it" is also
            # the title of a song, and one that starts with "yes" stays a yes ("yes, love
            # Radiohead" takes the Radiohead station offered, or agrees to drop a constraint).
            # "something like take five" was read as choosing an option (the fifth?).
            from nlu_components.input_guard import relabel_intent

            # out of scope is the intent model's guess against a name the tagger is sure of
            relabel_intent(message, "request_music",
                           max((e["confidence"] for e in new if e["entity"] == "artist"), default=0.0)
                           if intent == "out_of_scope" else 0.0)

    def _song_by_artist(self, text: str):
        """``(track, title start, title end, artist, artist start, artist end)`` when the message
        names a song as "TITLE by ARTIST" ("play help by the beatles", "hello by adele", "something
        like creep by radiohead"): ARTIST, right after a "by", is a catalogue artist (exact, else
        fuzzy as ``MentionResolver.artist``), and the words right before the "by" are one of that
        artist's titles (exact or a typo of it, only among that artist's tracks). The tagger needs
        context to see a title made of everyday words, the intent model read "play help by the
        beatles" as asking what is playing, and "creep" and "happy" became a genre and a mood.
        Not when the title is only words of asking ("play something by the beatles" asks for the
        band, though "Something" is their song), nor a one-word title after "something" / "some"
        ("something happy by pharrell" asks for happy music by him). The last "by" is tried first
        ("stand by me by ben e king")."""
        tokens = tokenize(text)
        if len(tokens) < 3 or len(tokens) > MAX_BARE_TITLE_WORDS + 8:
            return None
        artist_only = None  # the last "by ARTIST" with no title of theirs before it
        for k in range(len(tokens) - 2, 0, -1):
            if tokens[k].text != "by":
                continue
            artist = self._artist_after_by(text, tokens, k)
            if artist is None:
                continue
            # the longest title said exactly, else a typo of the words after the words of asking
            starts = [i for i in range(max(0, k - MAX_BARE_TITLE_WORDS), k)
                      if not _only_request_words([t.text for t in tokens[i:k]])
                      and not (i == k - 1 and i > 0 and tokens[i - 1].text in _SOME)]
            lead = next((i for i in starts if tokens[i].text not in REQUEST_WORDS), None)
            for i, look in [(i, self.resolver.exact_work) for i in starts] + \
                    ([(lead, self.resolver.work)] if lead is not None else []):
                r = look(text[tokens[i].start:tokens[k - 1].end], by=artist[0])
                if r.resolved:
                    if _REFUSED.search(text[:tokens[i].start]):
                        return None  # "not creep by radiohead"
                    return (r, tokens[i].start, tokens[k - 1].end) + artist
            if artist_only is None and not _REFUSED.search(text[:tokens[k].start]) \
                    and not only_ordinary_words(text[artist[1]:artist[2]]):
                # a title the catalogue lacks, or a description ("play hello by adele"); not
                # "songs i know by heart" (the band Heart) nor "i hate songs by adele"
                artist_only = (None, None, None) + artist
        return artist_only

    def _artist_after_by(self, text: str, tokens, k: int):
        """``(catalogue artist, start, end)`` named right after the "by" at token ``k``: the longest
        run of words that is an artist's name exactly, else a typo of one that is not made of
        ordinary words ("radiohaed"; not "by yourself" -> Yousef). Not a pronoun ("by her"), nor
        words of asking or "the" alone ("by the radio" is not the band The The)."""
        for fuzzy in (False, True):
            for j in range(min(len(tokens), k + 7), k + 1, -1):
                a, b = tokens[k + 1].start, tokens[j - 1].end
                name = text[a:b]
                words = [t.text for t in tokens[k + 1:j]]
                if len(name) > MAX_MENTION or _a_pronoun(text, a, b) or all(w in REQUEST_WORDS for w in words):
                    continue
                if fuzzy and only_ordinary_words(name):
                    continue
                found = self.resolver.artist(name).value if fuzzy else self.resolver.exact_artist(name)
                if found is not None:
                    return found, a, b
        return None

    def _name_the_song_by(self, message: Message, song, entities, text: str) -> None:
        """The message names the song ``song`` by its artist (``_song_by_artist``): what was read on
        the title's and the artist's words goes, the artist fills the slot and the track is the
        seed (a likeness, ``like``, after "like"). A request, unless the intent model was sure of
        something else ("is this creep by radiohead?"), whose intent stays (a refused song,
        "not creep by radiohead", never comes here: ``_song_by_artist``)."""
        from nlu_components.input_guard import relabel_intent

        r, start, end, artist, a_start, a_end = song
        named = (a_start if r is None else start, a_end)  # no title: what was read on the rest stays
        kept = [e for e in entities
                if not (e.get("entity") in GUESSABLE + ("era", "artist", "work", "unknown_mention")
                        and e.get("start", 0) < named[1] and named[0] < e.get("end", 0))]
        work = None if r is None else {"start": start, "end": end, "confidence": 1.0, "extractor": EXTRACTOR,
                                       "raw_value": text[start:end], **self._work_entity(r)}
        if work is not None and _asked_like(text, work):
            work["like"] = True
        slot_taken = any(e.get("entity") == "artist" and not e.get("role") and e.get("start", 0) < named[0]
                         for e in kept)
        if not slot_taken:
            # an artist named after the song ("... and something like aphex twin") is a further
            # artist: its best-known track a seed, as the tagger's second artist is
            further = []
            for e in kept:
                if e.get("entity") == "artist" and not e.get("role"):
                    seed = self._artist_seed(e.get("value"))
                    if seed is None:
                        continue
                    e = {**e, "role": "seed", "track_id": seed}
                further.append(e)
            kept = further
        by = {"entity": "artist", "value": artist, "start": a_start, "end": a_end, "confidence": 1.0,
              "extractor": EXTRACTOR, "raw_value": text[a_start:a_end], "mention_type": "artist",
              "confidence_normalisation": 1.0}
        if slot_taken and work is not None:  # another artist named first keeps the slot; this one is the song's
            by = {**by, "role": "seed", "track_id": work["track_id"]}
        message.set(ENTITIES, kept + ([] if slot_taken and work is None else [by]) + ([work] if work else []),
                    add_to_output=True)
        intent = message.get(INTENT) or {}
        unsure = float(intent.get("confidence") or 0.0) < self.config["unsure_intent"]
        said_yes = _starts_with_yes(text)
        if intent.get("name") in ASKS_FOR_A_SONG or intent.get("name") == "affirm" and not said_yes or unsure:
            relabel_intent(message, "request_music", self.config["min_confidence_ordinary"])

    def _bare_artist(self, text: str, entities, intent: Dict[str, Any]) -> Optional[str]:
        """The catalogue artist a message names and says nothing else ("rush", "Kansas!"), when
        the intent model did not read the message as something else: DIET read "rush" as a
        request for a genre it guessed by resemblance (pop), and "kansas" as nothing it knew
        (a fallback), though each names a catalogue band exactly. Not when the words are
        ordinary ones ("yes", "love", "heart": catalogue artists too), a vocabulary attribute
        ("metal") or a critique ("faster!!" is no request for the band Faster)."""
        # the name itself, not a plural or possessive of it: "classics" is no request for "Classic"
        name = " ".join(t.text for t in tokenize(text))
        if self.resolver.title_over_artist(name) is not None:
            return None  # far better known as a song: `_bare_title`'s
        artist = self.resolver.exact_artist(name)
        return artist if artist is not None and self._may_name_alone(text, entities, intent) else None

    def _may_name_alone(self, text: str, entities, intent: Dict[str, Any]) -> bool:
        """Can a message said alone be a name (``_bare_artist``, ``_bare_title``)? Not when its words
        are all ordinary ones, it is a critique, it holds an exact vocabulary attribute, or the
        intent model is sure it is something other than a request."""
        from music_domain import critiques

        if only_ordinary_words(text) or critiques.parse(text):
            return False
        if any(e.get("entity") in GUESSABLE + ("era",) and float(e.get("confidence_normalisation", 1.0)) >= 1.0
               for e in entities):
            return False
        unsure = float(intent.get("confidence") or 0.0) < self.config["unsure_intent"]
        return intent.get("name") in ("request_music", "out_of_scope") or unsure

    def _name_the_bare_artist(self, message: Message, artist: str, entities, text: str) -> None:
        """The message asks for ``artist``: what was guessed on its words goes, the artist fills
        the slot, and the intent is a request as sure as the name is exact."""
        from nlu_components.input_guard import relabel_intent

        kept = [e for e in entities if e.get("entity") not in GUESSABLE + ("artist", "unknown_mention", "work")
                or e.get("entity") == "artist" and e.get("value") == artist and not e.get("role")]
        if not any(e.get("entity") == "artist" for e in kept):
            stripped = text.strip()
            start = text.index(stripped) if stripped else 0
            kept.append({"entity": "artist", "value": artist, "start": start, "end": start + len(stripped),
                         "confidence": 1.0, "extractor": EXTRACTOR, "raw_value": stripped,
                         "mention_type": "artist", "confidence_normalisation": 1.0})
        message.set(ENTITIES, kept, add_to_output=True)
        relabel_intent(message, "request_music", self.config["min_confidence_ordinary"])

    def _bare_title(self, text: str, entities, intent: Dict[str, Any]):
        """``(track, start, end)``: the catalogue track a message names and says nothing else
        about but the words of asking ("bohemian rhapsody", "play hotel california please"), read
        by the intent model as a request (or unsure): the tagger needs context to see a title, and
        DIET read "bohemian" as the artist Bohemia by resemblance. Only an exact (normalised) title
        not made of everyday words ("Help", "Yesterday" stay words), no critique, no vocabulary
        attribute, and no work the tagger already found. A one-word title must not be an English
        word at all; a longer one not only everyday words ("play some music"). The longest title
        wins ("play let it be": "let" is also a word of asking). Not when the message names a catalogue
        artist exactly."""
        from music_domain.mentions import common_words

        tokens = tokenize(text)
        if not tokens or len(tokens) > MAX_BARE_TITLE_WORDS or any(e.get("entity") == "work" for e in entities):
            return None
        if any(e.get("entity") == "artist" and float(e.get("confidence_normalisation", 1.0)) >= 1.0 for e in entities):
            return None  # "I like Metallica" names the band, which is also a title
        lead = next((i for i, t in enumerate(tokens) if t.text not in REQUEST_WORDS), len(tokens))
        tail = next((i for i, t in enumerate(reversed(tokens)) if t.text not in REQUEST_WORDS), len(tokens))
        for i in range(0, lead + 1):
            for j in range(len(tokens), max(len(tokens) - tail, i + 1) - 1, -1):
                part = tokens[i:j]
                r = self.resolver.exact_work(" ".join(t.text for t in part))  # a dictionary lookup first
                if not r.resolved or len(part) == 1 and part[0].text in common_words():
                    continue
                if self._may_name_alone(text[part[0].start:part[-1].end], entities, intent):
                    return r, part[0].start, part[-1].end
        return None

    def _name_the_bare_title(self, message: Message, title, entities, text: str) -> None:
        """The message asks for the track ``title`` (``_bare_title``): what was guessed on its words
        goes, the track is the seed, and the message is a request."""
        from nlu_components.input_guard import relabel_intent

        r, start, end = title
        kept = [e for e in entities if e.get("entity") not in GUESSABLE + ("artist", "unknown_mention", "work")]
        kept.append({"start": start, "end": end, "confidence": 1.0, "extractor": EXTRACTOR,
                     "raw_value": text[start:end], **self._work_entity(r)})
        message.set(ENTITIES, kept, add_to_output=True)
        relabel_intent(message, "request_music", self.config["min_confidence_ordinary"])

    def _work_entity(self, r) -> Dict[str, Any]:
        """The entity fields of a resolved catalogue track ``r`` (a ``Resolution``)."""
        return {"entity": "work", "value": r.value, "artist": r.artist,
                "track_id": str(_catalog(self.config.get("catalog"))["track_id"].iloc[r.row]),
                "mention_type": "work", "confidence_normalisation": round(r.score / 100.0, 3)}

    @staticmethod
    def _guessed_artist_on_work(entity: Dict[str, Any], work_spans) -> bool:
        """An artist the attribute extractor matched only by resemblance (confidence below 1) on
        words the tagger reads as a song or album title: in "something like bohemian rhapsody"
        DIET's "bohemian" (matched to the artist Bohemia) is part of the title."""
        return MusicMentionExtractor._guessed_on(entity, ("artist",), work_spans)

    def _believable(self, mention: Dict[str, Any], intent: Optional[str] = None) -> bool:
        """An unresolved mention made only of the words of a request ("play me some" in "play me
        some Taylor Swift") is the request, not a name; one made only of ordinary words needs a
        confident tagger, and one made only of English words (a larger list) counts only in a
        request: in a reply, "yes start the station" names nothing."""
        from music_domain.mentions import common_words

        words = _words(mention["text"])
        if _only_request_words(words):
            return False
        if words and intent != "request_music" and all(w in common_words() or w in ordinary_words() for w in words):
            return False  # ... nor "yes that's good" ("thats" is no entry of the larger list)
        if words and all(w in ordinary_words() for w in words):
            return mention["confidence"] >= self.config["min_confidence_ordinary"]
        return True

    @staticmethod
    def _part_of_a_longer_artist(entity: Dict[str, Any], resolved_artists) -> bool:
        """An artist the attribute extractor found on part of a longer name that the tagger reads
        and the catalogue has: in "songs by Kendrick Lamar" DIET's "lamar" (matched to the artist
        "lama") or in "I like Philip Glass" its "Philip" gives way to the whole name."""
        if entity.get("entity") != "artist":
            return False
        a, b = entity.get("start", 0), entity.get("end", 0)
        return any(r.resolved and r.value != entity.get("value") and s <= a and b <= e and (e - s) > (b - a)
                   for (s, e), r in resolved_artists.items())

    def _believable_everyday_name(self, mention: Dict[str, Any]) -> bool:
        """A song title made only of everyday English words ("Please", "Help", "Yesterday")
        and named without its artist, or a further artist named so ("Her"), counts only when
        the tagger is confident."""
        from music_domain.mentions import common_words

        words = [t.text.lower() for t in tokenize(mention["text"])]
        if words and all(w in common_words() for w in words):
            return mention["confidence"] >= self.config["min_confidence_ordinary"]
        return True

    def _artist_seed(self, artist: str) -> Optional[str]:
        """The track id of ``artist``'s most popular music track in the catalogue, or None."""
        from music_domain.catalog import best_known_track

        cat = _catalog(self.config.get("catalog"))
        row = best_known_track(cat, artist)
        return None if row is None else str(cat["track_id"].iloc[row])

    @staticmethod
    def _guessed_attribute_on_mention(entity: Dict[str, Any], mention_spans) -> bool:
        """A genre / energy / mood / activity the attribute extractor only guessed (its words are
        no vocabulary phrase: normalised by similarity, confidence below 1) on words the tagger
        reads as an artist or a title: "Metallica" is an artist, not the genre metal by
        resemblance, and "Locked Out of Heaven" is a song, not sleep music."""
        return MusicMentionExtractor._guessed_on(entity, GUESSABLE, mention_spans)

    @staticmethod
    def _guessed_on(entity: Dict[str, Any], kinds, spans) -> bool:
        """An entity of one of ``kinds`` that the attribute extractor matched only by resemblance
        (confidence below 1), overlapping one of ``spans``."""
        if entity.get("entity") not in kinds or float(entity.get("confidence_normalisation", 1.0)) >= 1.0:
            return False
        a, b = entity.get("start", 0), entity.get("end", 0)
        return any(s < b and a < e for s, e in spans)

    @staticmethod
    def _ambiguous_catalogue_word(entity: Dict[str, Any], text: str, artist_spans, greeting: bool = False) -> bool:
        """Any artist in a greeting or goodbye ("Good Morning" is a catalogue artist too), or a
        catalogue artist named only with ordinary words ("Ghost", "Dream") that the tagger does
        not read as an artist in context."""
        if entity.get("entity") != "artist":
            return False
        raw = str(entity.get("raw_value") or text[entity.get("start", 0):entity.get("end", 0)])
        words = [t.text for t in tokenize(raw)]
        if greeting:
            return True
        if not words or not all(w in ordinary_words() for w in words):
            return False
        a, b = entity.get("start", 0), entity.get("end", 0)
        return not any(s < b and a < e for s, e in artist_spans)
