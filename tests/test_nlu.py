"""The trained NLU pipeline: attributes, graded sentiment and bad input."""
import asyncio

import pytest

from conftest import trained_model

pytestmark = pytest.mark.slow  # a trained model, an agent or a running server


@pytest.fixture(scope="module")
def parse():
    from rasa.core.agent import load_agent

    agent = asyncio.run(load_agent(str(trained_model())))

    def _parse(text):
        return asyncio.run(agent.parse_message(text))
    return _parse


def ents(result):
    return {e["entity"]: e["value"] for e in result["entities"]}


def test_attributes_are_normalised_to_the_catalogue(parse):
    r = parse("play some upbeat 90s rock")
    assert r["intent"]["name"] == "request_music"
    assert ents(r) | {"sentiment": None} == {"energy": "upbeat", "era": "1990s", "genre": "rock", "sentiment": None}
    assert ents(parse("alt rock"))["subgenre"] == "alt-rock"
    assert ents(parse("nineties"))["era"] == "1990s"
    assert ents(parse("chill"))["energy"] == "laid_back"
    assert ents(parse("i want something like Bruno Mars"))["artist"] == "Bruno Mars"
    r = parse("the second one")
    assert r["intent"]["name"] == "choose_option" and ents(r)["option"] == "1"


def test_free_description_maps_to_attributes_with_confidence(parse):
    r = parse("something for a rainy sunday")
    e = [x for x in r["entities"] if x["entity"] == "activity"]
    assert e and e[0]["value"] == "relax" and 0.5 <= e[0]["confidence"] < 1


def test_graded_sentiment_ranks_replies(parse):
    scores = [parse(t)["sentiment"]["score"] for t in ("Hmm, OK", "Yes", "YES!", "Brilliant, I love it")]
    assert scores == sorted(scores) and len(set(scores)) == 4
    assert parse("not really my thing")["sentiment"]["score"] < 0
    assert parse("I HATE IT!!")["sentiment"]["score"] < parse("I don't like it")["sentiment"]["score"]


@pytest.mark.parametrize("text", ["", "x" * 10000, "🎵🎶🎸", "¿Dónde está la biblioteca?", "\x00\x07\x1b[2J",
                                  "这首歌很好听"])
def test_bad_input_gives_low_confidence_and_neutral_sentiment(parse, text):
    r = parse(text)
    assert r["intent"]["name"] == "nlu_fallback" or r["intent"]["confidence"] < 0.5
    assert r["sentiment"]["score"] == 0.0
    assert not [e for e in r["entities"] if e["entity"] not in ("sentiment",)]
