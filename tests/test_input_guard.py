"""InputGuard on its own: which messages are not understandable, what it does to their parse,
how speech confidence scales intents, and that its vocabulary survives persistence."""
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu_components.input_guard import InputGuard, known_word


@pytest.fixture()
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


def guard(storage, **config):
    return InputGuard.create({**InputGuard.get_default_config(), **config}, storage, Resource("guard"),
                             ExecutionContext(GraphSchema({}), "test"))


@pytest.mark.parametrize("text", ["", "   ", "🎵🎶🎸", "?!?!", "x" * 1001, "play \x1b[2J rock",
                                  "¿Dónde está la biblioteca?", "Où est la gare, s'il vous plaît",
                                  "Ich möchte bitte etwas Musik hören", "qwzx vbnm plok trazz"])
def test_not_understandable(storage, text):
    assert guard(storage).not_understandable(text)


@pytest.mark.parametrize("text", ["play some upbeat rock", "help me find music", "yes please", "no, not that",
                                  "somthing laid back", "I htink the second one", "hmm ok"])
def test_understandable(storage, text):
    assert not guard(storage).not_understandable(text)


def test_a_genre_said_exactly_in_mixed_language_is_understood_unless_refused(storage):
    """"quiero jazz" was read as the subgenre spanish (now: an exact value wins) and then, with jazz
    masked, "quiero" alone was unknown. A value named exactly counts as one known word (a genre
    and its subgenre on the same word are one), a foreign "please" as none, and a foreign "no"
    ("nada de reggaeton", "pas de rock") keeps the message not understood: it would be heard as
    a request for the genre refused."""
    def named(text, word, *kinds):
        start = text.index(word)
        return [{"entity": k, "value": word, "start": start, "end": start + len(word),
                 "confidence_normalisation": 1.0} for k in kinds]

    g = guard(storage)
    assert not g.not_understandable("quiero jazz", named("quiero jazz", "jazz", "genre", "subgenre"))
    assert g.not_understandable("quiero algo")  # foreign words alone
    assert not g.not_understandable("reggaeton por favor", named("reggaeton por favor", "reggaeton", "subgenre"))
    assert g.not_understandable("por favor")  # a please alone asks for nothing
    for text, word in (("nada de reggaeton", "reggaeton"), ("pas de rock svp", "rock"), ("sin reggaeton", "reggaeton"),
                       ("nada de reggaeton por favor", "reggaeton")):
        assert g.not_understandable(text, named(text, word, "genre", "subgenre")), text
    # two entities on one word count once: two unknown words and one genre stay not understood
    # (counted twice, the share would reach the threshold)
    text = "quiero escuchar rock"
    assert g.not_understandable(text, named(text, "rock", "genre", "subgenre"))


def test_catalogue_names_in_exact_entities_count_as_known(storage):
    text = "play Sertanejo"
    assert guard(storage).not_understandable("Sertanejo Zouglou")  # unknown words alone
    entity = {"entity": "genre", "value": "sertanejo", "start": 5, "end": 14, "confidence_normalisation": 1.0}
    assert not guard(storage).not_understandable(text, [entity])
    weak = {**entity, "confidence_normalisation": 0.5}  # a fuzzy match does not vouch for the words
    assert guard(storage).not_understandable("Sertanejo Zouglou", [weak])


def test_typos_one_swap_or_deletion_away():
    vocab = {"think", "music"}
    assert known_word("htink", vocab) and known_word("musiic", vocab) and known_word("music", vocab)
    assert not known_word("mzsic", vocab) and not known_word("musc", vocab) and not known_word("thx", vocab)


def test_max_chars_and_known_share_are_configurable(storage):
    assert guard(storage, max_chars=10).not_understandable("play some rock")
    mixed = "play zorblat quenx fribble"  # 1 known word of 4
    assert guard(storage).not_understandable(mixed)
    assert not guard(storage, min_known_share=0.2).not_understandable(mixed)


def _message(text, confidence=0.9, asr=None, entities=()):
    m = Message(data={"text": text, "intent": {"name": "request_music", "confidence": confidence},
                      "intent_ranking": [{"name": "request_music", "confidence": confidence},
                                         {"name": "affirm", "confidence": 0.05}],
                      "entities": list(entities), **({"metadata": {"asr_confidence": asr}} if asr is not None else {})})
    return m


def test_process_lowers_confidence_and_drops_entities_of_what_it_cannot_understand(storage):
    g = guard(storage)
    bad = _message("🎵🎶", entities=[{"entity": "genre", "value": "rock", "start": 0, "end": 2}])
    good = _message("play some rock", entities=[{"entity": "genre", "value": "rock", "start": 10, "end": 14}])
    g.process([bad, good])
    assert bad.get("intent")["confidence"] == 0.05 and bad.get("input_guard") == "not_understood"
    assert all(r["confidence"] <= 0.05 for r in bad.get("intent_ranking"))
    assert [e["entity"] for e in bad.get("entities")] == ["sentiment"]
    assert bad.get("sentiment")["label"] == "neutral"
    assert good.get("intent")["confidence"] == 0.9 and good.get("entities")[0]["value"] == "rock"
    assert good.get("input_guard") is None


@pytest.mark.parametrize("asr, factor", [(1.0, 1.0), (0.4, 0.7), (0.0, 0.5), (1.7, 1.0), (-3, 0.5)])
def test_speech_confidence_scales_intents_and_is_reported(storage, asr, factor):
    m = _message("play some rock", confidence=0.8, asr=asr)
    guard(storage).process([m])
    assert m.get("intent")["confidence"] == pytest.approx(0.8 * factor)
    assert m.get("intent_ranking")[0]["confidence"] == pytest.approx(0.8 * factor)
    assert m.get("asr_confidence") == min(1.0, max(0.0, asr))


@pytest.mark.parametrize("metadata", [{"asr_confidence": "loud"}, {"asr_confidence": float("nan")}, "not a dict"])
def test_bad_speech_confidence_is_ignored(storage, metadata):
    m = Message(data={"text": "play some rock", "intent": {"name": "request_music", "confidence": 0.8},
                      "metadata": metadata})
    guard(storage).process([m])
    assert m.get("intent")["confidence"] == 0.8 and m.get("asr_confidence") is None


def test_training_vocabulary_is_persisted_and_loaded(storage):
    g = guard(storage)
    word = "zorblatics"
    assert g.not_understandable(f"{word} {word}")
    resource = g.train(TrainingData([Message(data={"text": f"play {word} please"})]))
    loaded = InputGuard.load({**InputGuard.get_default_config()}, storage, resource,
                             ExecutionContext(GraphSchema({}), "test"))
    assert not loaded.not_understandable(f"{word} {word}")


def _ranked(text, ranking):
    return Message(data={"text": text, "intent": dict(ranking[0]), "intent_ranking": [dict(r) for r in ranking],
                         "entities": []})


def test_two_readings_of_one_yes_are_a_yes_not_an_ambiguity(storage):
    """"yes I love it" after a sample: accept 0.541, affirm 0.45. Both say yes, so the parse is
    the more likely one with their summed confidence; FallbackClassifier's ambiguity check
    (0.541 - 0.45 < 0.1) no longer answers "I didn't quite get that". Other pairs stay as they were."""
    g = guard(storage)
    yes = _ranked("yes I love it", [{"name": "accept", "confidence": 0.541}, {"name": "affirm", "confidence": 0.45},
                                    {"name": "goodbye", "confidence": 0.009}])
    g.process([yes])
    assert yes.get("intent")["name"] == "accept" and yes.get("intent")["confidence"] == pytest.approx(0.991)
    assert [r["name"] for r in yes.get("intent_ranking")] == ["accept", "goodbye"]
    for pair in (["affirm", "deny"], ["accept", "request_music"], ["deny", "affirm"]):
        m = _ranked("well maybe", [{"name": pair[0], "confidence": 0.5}, {"name": pair[1], "confidence": 0.45}])
        g.process([m])
        assert m.get("intent")["confidence"] == 0.5 and len(m.get("intent_ranking")) == 2
    # what cannot be understood is not merged into a confident yes
    junk = _ranked("🎵🎶", [{"name": "accept", "confidence": 0.5}, {"name": "affirm", "confidence": 0.45}])
    g.process([junk])
    assert junk.get("intent")["confidence"] <= 0.05


@pytest.mark.parametrize("text, becomes", [
    ("yes start it", "accept"),  # `make shell`: affirm 0.96, so another sample was played
    ("ok, play the station", "accept"),
    ("sure, make it a station", "accept"),
    ("yes", "affirm"),
    ("hmm ok", "affirm"),
    ("yes I like that", "affirm"),
    ("yes play something else", "affirm"),
])
def test_a_yes_that_asks_to_start_it_is_an_accept(storage, text, becomes):
    g = guard(storage)
    m = _ranked(text, [{"name": "affirm", "confidence": 0.96}, {"name": "accept", "confidence": 0.03},
                       {"name": "deny", "confidence": 0.01}])
    g.process([m])
    assert m.get("intent")["name"] == becomes
    names = [r["name"] for r in m.get("intent_ranking")]
    assert names[0] == becomes and len(names) == len(set(names))


@pytest.mark.parametrize("text, intent, becomes", [
    ("no thanks, bye", "deny", "stop"),  # `make shell`: deny 0.98, answered "let's try another direction"
    ("nah, gotta go", "deny", "stop"),
    ("ok whatever, bye", "surprise_me", "stop"),  # `make shell`: surprise_me 0.62, answered with a question
    ("cheers, see ya", "out_of_scope", "goodbye"),
    ("hello there, see you later", "greet", "goodbye"),
    ("ok thanks, see ya", "affirm", "affirm"),  # to an offered station: a yes that starts it
    ("yes start it, bye", "accept", "accept"),  # the station starts; the farewell is a courtesy
    ("play the station, bye", "request_music", "request_music"),
    ("no thanks", "deny", "deny"),
    ("maybe later", "affirm", "affirm"),
    ("nobody byers", "deny", "deny"),  # words that only contain a farewell
])
def test_a_farewell_said_with_a_no_or_a_thanks_ends_the_conversation(storage, text, intent, becomes):
    g = guard(storage)
    m = _ranked(text, [{"name": intent, "confidence": 0.4}, {"name": "goodbye", "confidence": 0.35},
                       {"name": "greet", "confidence": 0.25}])
    g.process([m])
    assert m.get("intent")["name"] == becomes
    ranking = m.get("intent_ranking")
    names = [r["name"] for r in ranking]
    assert names[0] == becomes and len(names) == len(set(names))
    if becomes != intent:
        # not a fallback, and no second intent close enough for FallbackClassifier's ambiguity check
        assert m.get("intent")["confidence"] >= 0.9
        assert all(r["confidence"] <= 0.1 + 1e-9 for r in ranking[1:])


def test_a_farewell_inside_a_name_or_misheard_is_not_taken_as_one(storage):
    g = guard(storage)
    m = _ranked("no, not See You Again", [{"name": "deny", "confidence": 0.6}, {"name": "goodbye", "confidence": 0.3}])
    m.set("entities", [{"entity": "work", "value": "See You Again", "start": 8, "end": 21}])
    g.process([m])
    assert m.get("intent")["name"] == "deny"
    # speech heard with confidence 0.2: the farewell is as unsure as the words
    heard = Message(data={"text": "no thanks bye", "intent": {"name": "deny", "confidence": 0.6},
                          "intent_ranking": [{"name": "deny", "confidence": 0.6}], "entities": [],
                          "metadata": {"asr_confidence": 0.2}})
    g.process([heard])
    assert heard.get("intent")["name"] == "stop" and heard.get("intent")["confidence"] == pytest.approx(0.9 * 0.6)
