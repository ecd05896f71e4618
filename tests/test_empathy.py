"""Goal closeness (music_domain.empathy): the score's parts, its weights and the bands."""
import pytest

from music_domain.dialogue_state import DialogueState
from music_domain.empathy import (CLOSE_FROM, FRUSTRATED_BELOW, W_CONFIDENCE, W_MATCH, W_SENTIMENT, closeness,
                                  match_part, sentiment_part, state_closeness)
from music_domain.reactions import NEGATIVE_RUN

GOOD = {"log_candidates": 3.0, "match_quality": 0.9}


def test_weights_sum_to_one_and_the_score_is_their_mix():
    assert W_SENTIMENT + W_CONFIDENCE + W_MATCH == pytest.approx(1.0)
    c = closeness([0.6], 0.8, GOOD)
    assert c.sentiment == pytest.approx(0.8) and c.confidence == 0.8 and c.match == pytest.approx(0.9)
    assert c.score == pytest.approx(0.45 * 0.8 + 0.25 * 0.8 + 0.30 * 0.9)


def test_sentiment_part_weights_recent_replies_most():
    assert sentiment_part([]) == 0.5
    assert sentiment_part([1.0]) == 1.0 and sentiment_part([-1.0]) == 0.0
    # (0.6 * -1 + 1 * 1) / 1.6 = 0.25 -> (0.25 + 1) / 2
    assert sentiment_part([-1.0, 1.0]) == pytest.approx(0.625)
    assert sentiment_part([-1.0, 1.0]) > sentiment_part([1.0, -1.0])
    assert sentiment_part([5.0]) == 1.0  # clipped to the scale


def test_match_part():
    assert match_part({}) == 0.0
    assert match_part({"log_candidates": 0.0, "match_quality": 1.0}) == 0.0  # nothing matches
    assert match_part(GOOD) == pytest.approx(0.9)
    with_profile = {**GOOD, "has_profile": 1.0, "affinity_top": 0.5}
    assert match_part(with_profile) == pytest.approx(0.7 * 0.9 + 0.3 * 0.5)
    assert match_part({**GOOD, "has_profile": 1.0, "affinity_top": 9.0}) <= 1.0


def test_speech_confidence_multiplies_nlu_confidence():
    assert closeness([], 0.8, GOOD, asr_confidence=0.5).confidence == pytest.approx(0.4)
    assert closeness([], 0.8, GOOD, asr_confidence=2.0).confidence == pytest.approx(0.8)  # clipped


def test_bands():
    assert closeness([0.9, 0.9], 1.0, GOOD).band == "close"
    assert closeness([0.9, 0.9], 1.0, GOOD).score >= CLOSE_FROM
    assert closeness([0.9, -0.1], 1.0, GOOD).band == "neutral"  # high score, but the last reply was negative
    low = closeness([-0.8], 0.2, {})
    assert low.score < FRUSTRATED_BELOW and low.band == "frustrated"
    assert closeness([0.0], 0.9, {"log_candidates": 2.0, "match_quality": 0.6}).band == "neutral"


def test_a_run_of_negative_replies_is_frustrated_whatever_the_score():
    run = [-0.05] * NEGATIVE_RUN
    c = closeness(run, 1.0, {**GOOD, "match_quality": 1.0})
    assert c.score >= FRUSTRATED_BELOW and c.band == "frustrated"
    assert closeness([-0.05] * (NEGATIVE_RUN - 1) + [0.0], 1.0, {**GOOD, "match_quality": 1.0}).band != "frustrated"


def test_state_closeness_reads_the_dialogue_state():
    s = DialogueState(sentiments=[0.5], nlu_confidence=0.7, candidates=GOOD)
    assert state_closeness(s, 0.5) == closeness([0.5], 0.7, GOOD, 0.5)
    assert state_closeness(s).as_dict()["band"] in ("close", "neutral", "frustrated")
