"""Export of logged prompt decisions from the tracker store (issue: logging and rewards)."""
import asyncio

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from policy_learning.log_export import export_trackers, read_tracker_store, split_sessions
from music_domain.dialogue_state import ALL_FEATURES
from music_domain.prompts import N_PROMPTS, PROMPT_NAMES


@pytest.fixture(scope="module")
def engine(assets):
    from music_domain.dialogue_engine import MusicDialogueEngine

    return MusicDialogueEngine(assets)


def _meta(prompt, propensity=0.8, turn=1):
    probs = [(1 - propensity) / (N_PROMPTS - 1)] * N_PROMPTS
    probs[PROMPT_NAMES.index(prompt)] = propensity
    return {"prompt_policy": {"prompt": prompt, "propensity": propensity, "probabilities": probs,
                              "candidates": [], "policy": "rule_based+eps", "policy_version": "test",
                              "features": [0.5] * len(ALL_FEATURES), "turn": turn}}


def _user(text, intent, entities=(), score=0.0):
    return {"event": "user", "text": text, "parse_data": {
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [{"entity": k, "value": v} for k, v in entities], "sentiment": {"score": score}}}


def _action(name, meta=None):
    return {"event": "action", "name": name, **({"metadata": meta} if meta is not None else {})}


def _slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def accepted_conversation(assets, genre="rock"):
    rows = np.flatnonzero(assets.catalog["genre"].to_numpy() == genre)
    track = assets.catalog["track_id"].iat[int(rows[0])]
    return [
        {"event": "session_started"},
        _user("help me find music", "request_music"), _action("utter_ask_open", _meta("ask_open", turn=1)),
        _action("action_listen"),
        _user(genre, "request_music", [("genre", genre)], 0.1), _slot("genre", genre),
        _action("action_play_sample", _meta("play_sample", 0.6, turn=2)), _slot("last_sample", track),
        _action("action_listen"),
        _user("yes I love it", "affirm", score=0.8),
        _action("action_offer_station", _meta("offer_station", 0.9, turn=3)), _slot("station", [track]),
        _action("action_listen"),
        _user("yes please", "affirm", score=0.6), _action("action_start_station"), _slot("outcome", "accepted"),
    ]


def test_accepted_conversation_rows_and_rewards(assets, engine):
    frame, report = export_trackers([("listener-1", accepted_conversation(assets))], engine, salt="s")
    assert list(frame["prompt"]) == ["ask_open", "play_sample", "offer_station"]
    assert list(frame["reward"]) == [1, 1, 1]  # genre consistent; the sample seeded it; the offer was taken
    assert set(frame["outcome"]) == {"accepted"} and frame["success"].all()
    assert frame["n_turns"].iat[0] == 4
    assert list(frame["propensity"]) == [0.8, 0.6, 0.9]
    assert frame["features"].iat[0].shape == (len(ALL_FEATURES),)
    assert '"genre": "rock"' in frame["elicited"].iat[0]
    assert report.outcomes == {"accepted": 1} and not report.problems


def test_cut_off_conversation_is_incomplete_and_counted(assets, engine):
    cut = accepted_conversation(assets)[:8]  # server killed after the sample was played
    frame, report = export_trackers([("listener-2", cut)], engine, salt="s")
    assert report.outcomes == {"incomplete": 1}
    assert len(frame) == 2 and set(frame["outcome"]) == {"incomplete"}
    assert not frame["success"].any() and (frame["reward"] == 0).all()


def test_corrupt_or_missing_metadata_is_reported_with_the_conversation(assets, engine):
    events = accepted_conversation(assets)
    events[2] = _action("utter_ask_open", None)                            # missing
    events[6] = _action("action_play_sample", _meta("play_sample", 0.0))   # zero propensity
    frame, report = export_trackers([("listener-3", events)], engine, salt="s")
    assert list(frame["prompt"]) == ["offer_station"]
    assert len(report.problems) == 2
    cid = frame["conversation_id"].iat[0]
    assert all(cid in p for p in report.problems)
    assert "no prompt_policy metadata" in report.problems[0] and "propensity" in report.problems[1]


@pytest.mark.parametrize("spoil, reason", [
    (lambda d: d.pop("policy_version"), "no policy_version"),
    (lambda d: d.update(probabilities=[float("nan")] * N_PROMPTS), "NaN"),
    (lambda d: d.update(probabilities=[0.5] * N_PROMPTS), "not a distribution"),
    (lambda d: d.update(probabilities=d["probabilities"][:3]), "probabilities must be"),
    (lambda d: d.update(propensity=0.1), "not the probability of the logged prompt"),
])
def test_a_decision_off_policy_work_cannot_use_is_reported_not_exported(assets, engine, spoil, reason):
    events = accepted_conversation(assets)
    spoil(events[6]["metadata"]["prompt_policy"])  # the play_sample decision
    frame, report = export_trackers([("listener-5", events)], engine, salt="s")
    assert list(frame["prompt"]) == ["ask_open", "offer_station"]
    assert len(report.problems) == 1 and reason in report.problems[0]
    assert frame["conversation_id"].iat[0] in report.problems[0] and "event 6" in report.problems[0]


def test_export_is_idempotent_and_carries_no_raw_sender_id(assets, engine, tmp_path):
    trackers = [("alice@example.com", accepted_conversation(assets)),
                ("bob'; DROP TABLE events;--", accepted_conversation(assets, "pop")[:5])]
    a, _ = export_trackers(trackers, engine, salt="pepper")
    b, _ = export_trackers(list(reversed(trackers)), engine, salt="pepper")
    pd.testing.assert_frame_equal(a, b)
    text = a.astype(str).to_csv()
    assert "alice" not in text and "DROP TABLE" not in text
    c, _ = export_trackers(trackers, engine, salt="other")
    assert set(c["user_hash"]).isdisjoint(a["user_hash"])


def test_export_leaves_the_listeners_words_out_unless_asked(assets, engine):
    events = accepted_conversation(assets)
    words = [e["text"] for e in events if e.get("event") == "user" and e.get("text")]
    assert words
    private, _ = export_trackers([("carol", events)], engine, salt="s")
    dump = private.astype(str).to_csv()
    assert "reply_text" not in private.columns
    assert not [w for w in words if len(w) > 8 and w in dump], "no raw utterance in the default export"
    study, _ = export_trackers([("carol", events)], engine, salt="s", include_text=True)
    assert set(study["reply_text"].dropna()) <= set(words) and study["reply_text"].notna().any()


def test_sessions_split_into_conversations():
    events = [{"event": "session_started"}, _user("hi", "greet"), {"event": "restart"}, _user("x", "stop"),
              {"event": "restart"}]
    assert len(split_sessions(events)) == 2


def test_export_reads_the_sql_tracker_store(assets, engine, tmp_path):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.load(str(ROOT / "domain.yml"))
    db = tmp_path / "store.db"
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
    events = accepted_conversation(assets)
    for e in events:
        e.setdefault("timestamp", 1.0)
    asyncio.run(store.save(DialogueStateTracker.from_dict("listener-4", events, domain.slots)))
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {db}\n")
    trackers = asyncio.run(read_tracker_store(str(endpoints), str(ROOT / "domain.yml")))
    frame, report = export_trackers(trackers, engine, salt="s")
    direct, _ = export_trackers([("listener-4", accepted_conversation(assets))], engine, salt="s")
    assert report.outcomes == {"accepted": 1}
    pd.testing.assert_frame_equal(frame, direct)


def test_start_it_with_nothing_to_start_is_not_a_success(assets, engine):
    """"start it" before anything was played runs action_start_station without starting a
    station (no ``outcome`` slot): the conversation is not accepted, and no prompt is credited."""
    events = [
        {"event": "session_started"},
        _user("help me find music", "request_music"), _action("utter_ask_open", _meta("ask_open", turn=1)),
        _action("action_listen"),
        _user("just start it", "accept", score=-0.3), _action("action_start_station"),
        _action("action_listen"),
    ]
    frame, report = export_trackers([("listener-5", events)], engine, salt="s")
    assert report.outcomes == {"incomplete": 1} and not frame["success"].any()
    assert list(frame["reward"]) == [0]
    frame, report = export_trackers([("listener-6", accepted_conversation(assets))], engine, salt="s")
    assert report.outcomes == {"accepted": 1}  # the slot the action sets decides it
