"""Attributes from real phrasing, without a trained model: the attribute extractor given what a
model tagged (or nothing), as it runs after DIET in the pipeline."""
import pytest
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu_components.music_attributes import MusicAttributeExtractor
from nlu_components.music_mentions import MusicMentionExtractor


@pytest.fixture(scope="module")
def extractor():
    return MusicAttributeExtractor(MusicAttributeExtractor.get_default_config())


def attributes(extractor, text, tagged=(), intent="request_music"):
    ents = []
    for entity, span in tagged:
        start = text.index(span)
        ents.append({"entity": entity, "value": span, "start": start, "end": start + len(span),
                     "extractor": "DIETClassifier", "confidence_entity": 0.9})
    m = Message({TEXT: text, INTENT: {"name": intent, "confidence": 0.9}, ENTITIES: ents})
    extractor.process([m])
    return {(e["entity"], e["value"]) for e in m.get(ENTITIES) if e["entity"] != "subgenre"}


@pytest.mark.parametrize("text, tagged, expected", [
    # a span the model typed wrongly is read by the vocabulary ("relax" is an activity)
    ("a rock playlist to help me relax", [("genre", "rock"), ("energy", "relax")],
     {("genre", "rock"), ("activity", "relax")}),
    # vocabulary words inside a longer span
    ("I want some classic soul", [("genre", "classic soul")], {("genre", "soul and jazz")}),
    ("I like up-tempo funk", [("genre", "up-tempo funk")], {("genre", "soul and jazz"), ("energy", "upbeat")}),
    # a misspelt genre
    ("play some jazzz", [("genre", "jazzz")], {("genre", "soul and jazz")}),
    # phrasings the model did not tag at all
    ("something for my commute home", [], {("activity", "driving")}),
    ("songs for when I'm feeling lonely", [], {("mood", "melancholic")}),
    ("some hip/hop please", [], {("genre", "hip hop")}),
    # a critique is not a request for what it criticises
    ("too slow", [], set()),
    # an artist with a possessive or plural "s", as typed ("play radioheads stuff" found nothing)
    ("play radioheads stuff", [], {("artist", "Radiohead")}),
    ("some of coldplay's older songs", [], {("artist", "Coldplay")}),
    # ... but not a word that merely ends like a short name
    ("music for muses and poets", [], set()),
    ("rock's greatest anthems", [], {("genre", "rock")}),
    # a word the model tagged as an artist that is wholly another attribute's phrase is that
    # attribute, not a near-spelling of a catalogue artist ("bangers" was BANNERS)
    ("i want bangers for my workout", [("artist", "bangers")], {("energy", "upbeat"), ("activity", "workout")}),
    # ... while a catalogue artist's own name and its typos stay the artist
    ("play banners", [("artist", "banners")], {("artist", "BANNERS")}),
    ("play metalica", [("artist", "metalica")], {("artist", "Metallica")}),
    # a function word the model tagged says nothing ("a" was read as the activity party)
    ("kids music for a workout", [("genre", "kids"), ("activity", "a")], {("genre", "kids"), ("activity", "workout")}),
])
def test_real_phrasings_map_to_the_vocabulary(extractor, text, tagged, expected):
    assert attributes(extractor, text, tagged) == expected


def test_phrasings_are_not_read_in_a_goodbye(extractor):
    assert attributes(extractor, "I have to drive now, bye", intent="goodbye") == set()


def test_a_guessed_attribute_on_an_artists_words_is_dropped():
    guessed = {"entity": "genre", "value": "metal", "start": 7, "end": 16, "confidence_normalisation": 0.62}
    said = {"entity": "genre", "value": "metal", "start": 7, "end": 16, "confidence_normalisation": 1.0}
    on_artist = [(7, 16)]
    assert MusicMentionExtractor._guessed_attribute_on_mention(guessed, on_artist)
    assert not MusicMentionExtractor._guessed_attribute_on_mention(said, on_artist)  # "metal" said as a word
    assert not MusicMentionExtractor._guessed_attribute_on_mention(guessed, [(20, 25)])


def test_an_artist_found_on_part_of_a_longer_named_artist_gives_way():
    from music_domain.mentions import Resolution

    # "some songs by Kendrick lamar": DIET tags "lamar" (matched to the artist "lama"), the
    # tagger reads "Kendrick lamar", which the catalogue has
    part = {"entity": "artist", "value": "lama", "start": 23, "end": 28}
    whole = {(14, 28): Resolution("artist", "Kendrick lamar", "Kendrick Lamar", "Kendrick Lamar", None, 100.0)}
    assert MusicMentionExtractor._part_of_a_longer_artist(part, whole)
    # the same artist, an unresolved longer mention, or a span it does not cover: kept
    assert not MusicMentionExtractor._part_of_a_longer_artist({**part, "value": "Kendrick Lamar"}, whole)
    unresolved = {(14, 28): Resolution("artist", "Kendrick lamar", None, None, None, 0.0)}
    assert not MusicMentionExtractor._part_of_a_longer_artist(part, unresolved)
    assert not MusicMentionExtractor._part_of_a_longer_artist({**part, "start": 30, "end": 35}, whole)
    assert not MusicMentionExtractor._part_of_a_longer_artist({**part, "entity": "genre"}, whole)


class _Tagged:
    """A tagger that read ``spans`` (words of the text) as artist mentions."""

    def __init__(self, text, spans, confidence=0.97):
        self.found = [{"type": "Artist", "text": s, "start": text.index(s), "end": text.index(s) + len(s),
                       "confidence": confidence} for s in spans]

    def mentions(self, text, states=None):
        return self.found


@pytest.mark.parametrize("text, request_words, name", [
    ("play me some taylor swift", "play me some", "taylor swift"),
    ("could you put on something like Metallica", "could you put on something like", "Metallica"),
    ("let's hear some songs by Radiohead", "let's hear some songs", "Radiohead"),
    # `make shell`: "I don't have hey can you in my catalogue"
    ("hey can you play something like Radiohead", "hey can you", "Radiohead"),
])
def test_the_words_of_a_request_are_not_a_name_the_catalogue_lacks(text, request_words, name):
    """Seen in `make shell`: "play me some taylor swift" was answered "I don't have play me some in
    my catalogue" when the tagger read the request's words as a name."""
    ex = MusicMentionExtractor(MusicMentionExtractor.get_default_config(), None, None,
                               _Tagged(text, [request_words, name]))
    m = Message(data={TEXT: text, INTENT: {"name": "request_music", "confidence": 1.0}})
    ex.process([m])
    ents = m.get(ENTITIES)
    assert not [e for e in ents if e["entity"] == "unknown_mention"], ents
    assert [e["value"].lower() for e in ents if e["entity"] == "artist"] == [name.lower()]
    # a name the catalogue lacks is still said to be missing
    text = f"{request_words} Zzyzx Quartet"
    ex.tagger = _Tagged(text, [request_words, "Zzyzx Quartet"])
    m = Message(data={TEXT: text, INTENT: {"name": "request_music", "confidence": 1.0}})
    ex.process([m])
    assert [e["value"] for e in m.get(ENTITIES) if e["entity"] == "unknown_mention"] == ["Zzyzx Quartet"]


@pytest.mark.parametrize("text, intent", [("yes that's good", "affirm"), ("nah thats not it", "deny")])
def test_a_reply_made_of_plain_words_names_nothing(text, intent):
    """`make shell`: "yes that's good" after a sample was answered "I don't have yes that's good in
    my catalogue": the tagger read it as a title, and "thats" is no entry of the common words."""
    ex = MusicMentionExtractor(MusicMentionExtractor.get_default_config(), None, None,
                               _Tagged(text, [text], confidence=0.91))
    m = Message(data={TEXT: text, INTENT: {"name": intent, "confidence": 1.0}})
    ex.process([m])
    assert not [e for e in m.get(ENTITIES) or [] if e["entity"] in ("unknown_mention", "work", "artist")]


@pytest.mark.parametrize("text, name, intent", [
    ("something like boris", "boris", "request_music"),  # read as a "no" by the intent model in `make shell`
    ("no, something like Boris", "Boris", "request_music"),
    ("more of radiohead", "radiohead", "request_music"),
    ("I don't like Boris", "Boris", "deny"),
    ("not like Boris", "Boris", "deny"),
    ("no more of Boris", "Boris", "deny"),
    ("why not Boris?", "Boris", "request_music"),
    ("how about boris", "boris", "request_music"),
])
def test_a_named_artist_asked_for_is_a_request_even_when_read_as_a_no(text, name, intent):
    ex = MusicMentionExtractor(MusicMentionExtractor.get_default_config(), None, None, _Tagged(text, [name]))
    ranking = [{"name": "deny", "confidence": 0.83}, {"name": "request_music", "confidence": 0.1}]
    m = Message(data={TEXT: text, INTENT: ranking[0], "intent_ranking": ranking})
    ex.process([m])
    assert m.get(INTENT)["name"] == intent
    # the intent it replaces is gone from the ranking (else Rasa's FallbackClassifier reads two
    # intents at 0.83 as ambiguous and answers "I'm not sure what you mean")
    names = [r["name"] for r in m.get("intent_ranking")]
    assert names[0] == intent and len(names) == len(set(names)) == (1 if intent == "request_music" else 2)
    assert [e["value"].lower() for e in m.get(ENTITIES) if e["entity"] == "artist"] == [name.lower()]


@pytest.mark.parametrize("text, name, intent, becomes", [
    ("anything by queen", "queen", "surprise_me", "request_music"),  # `make shell`: a random sample
    ("got anything by daughter?", "daughter", "surprise_me", "request_music"),
    ("i like radiohead", "radiohead", "affirm", "request_music"),
    ("i like it", "i like it", "affirm", "affirm"),  # the song "I Like It": a yes, not a request
    ("yes, love radiohead", "radiohead", "affirm", "affirm"),  # a yes to a Radiohead station offered
    ("Yeah! radiohead", "radiohead", "affirm", "affirm"),
])
def test_a_catalogue_artist_named_in_a_yes_or_a_surprise_me_is_a_request(text, name, intent, becomes):
    ex = MusicMentionExtractor(MusicMentionExtractor.get_default_config(), None, None, _Tagged(text, [name]))
    ranking = [{"name": intent, "confidence": 0.8}, {"name": "request_music", "confidence": 0.15}]
    m = Message(data={TEXT: text, INTENT: ranking[0], "intent_ranking": ranking})
    ex.process([m])
    assert m.get(INTENT)["name"] == becomes
    assert [r["name"] for r in m.get("intent_ranking")][0] == becomes



@pytest.mark.parametrize("text, names, intent, artists", [
    # `make shell`: the intent model read it as out of scope (0.43), so the names were dropped
    # as a greeting's and the assistant answered "Sorry, I didn't quite get that"
    ("i like swans and daughter", ["swans", "daughter"], "out_of_scope", ["Swans", "Daughter"]),
    ("what do you think about it", ["it"], "out_of_scope", []),  # an ordinary word names nobody
    ("what about zzyzx quartet", ["zzyzx quartet"], "out_of_scope", []),  # not in the catalogue
    ("hi radiohead", ["radiohead"], "greet", []),  # a greeting still names nobody
])
def test_a_catalogue_artist_in_a_message_read_as_out_of_scope_is_a_request(text, names, intent, artists):
    ex = MusicMentionExtractor(MusicMentionExtractor.get_default_config(), None, None, _Tagged(text, names))
    ranking = [{"name": intent, "confidence": 0.43}, {"name": "request_music", "confidence": 0.35}]
    m = Message(data={TEXT: text, INTENT: dict(ranking[0]), "intent_ranking": ranking})
    ex.process([m])
    assert [e["value"] for e in m.get(ENTITIES) if e["entity"] == "artist"] == artists
    assert not [e for e in m.get(ENTITIES) if e["entity"] in ("unknown_mention", "work")]
    if artists:
        # the tagger's confidence against the intent model's guess: a request, not a fallback
        assert m.get(INTENT)["name"] == "request_music" and m.get(INTENT)["confidence"] >= 0.9
        assert [r["name"] for r in m.get("intent_ranking")] == ["request_music"]
    else:
        assert m.get(INTENT)["name"] == intent
