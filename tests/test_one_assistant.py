"""The deployed assistant is the simulated one.

One scripted conversation runs twice:

- through the deployed path: Rasa's ``PromptSelectionPolicy`` predicts each prompt from a
  ``DialogueStateTracker``, the rasa-sdk actions carry it out (called with a tracker and a
  dispatcher), Rasa's rules are followed as ``rasa_project/data/rules.yml`` states them, and
  the tracker's events are exported by ``policy_learning.log_export``;
- through the simulator (``simulator.fast_path.converse``).

Both must reach the same dialogue states and log the same rows. The script goes through a
genre suggestion, an impossible request (the suggested genre from the 1950s: nothing in the catalogue), the offer to drop a
constraint and the listener's "yes", a rejected and a liked sample, and an accepted station.
"""
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
from music_domain.dialogue_state import DialogueState
from music_domain.tracker_replay import parse_data, state_from_events
from prompt_policies import ExplorationPolicy, PromptPolicy, one_hot
from prompt_policies.base import never_asked

PROMPTS = ["ask_energy", "suggest_genres", "ask_era", "play_sample", "play_sample", "offer_station"]
OPENING = UserMeaning("request_music", {}, 0.0)
REPLIES = [
    UserMeaning("request_music", {"energy": "upbeat"}, 0.1),  # ask_energy
    UserMeaning("choose_option", {}, 0.3, choice=0),  # suggest_genres: the first one
    UserMeaning("request_music", {"era": "1950s"}, 0.1),  # ask_era: nothing of that genre is from the 50s
    UserMeaning("affirm", {}, 0.1),  # play_sample: "shall I drop the era?" - yes
    UserMeaning("deny", {}, -0.5),  # ... the sample played after dropping it: no
    UserMeaning("affirm", {}, 0.8),  # play_sample: liked
    UserMeaning("accept", {}, 0.7),  # offer_station: taken
]
SALT = "same"


class ScriptedPolicy(PromptPolicy):
    name, version = "scripted", "7"

    def probabilities(self, state: DialogueState) -> np.ndarray:
        return one_hot(PROMPTS[min(state.turn, len(PROMPTS) - 1)])


def policy() -> PromptPolicy:
    return ExplorationPolicy(ScriptedPolicy(), epsilon=0.2)  # greedy choice, propensity 0.825 or 0.829


class ScriptedListener:
    def __init__(self, user_id):
        self.user_id, self.turns, self.done, self.accepted_row = user_id, 0, None, None
        self.replies = list(REPLIES)
        self.shown = []

    def first(self):
        self.turns += 1
        return OPENING

    def reply(self, prompt, shown):
        self.turns += 1
        self.shown.append(shown)
        meaning = self.replies.pop(0)
        if meaning.intent == "accept":
            self.done = "accepted"
            self.accepted_row = shown.rows[0] if shown.rows else shown.row
        return meaning


@pytest.fixture(scope="module")
def user_id(assets):
    return next(u for u in sorted(assets.goals) if u in assets.profiles)


@pytest.fixture(scope="module", params=[True, False], ids=["history", "no-history"])
def history(request):
    return request.param


@pytest.fixture(scope="module")
def simulated(assets, user_id, history):
    from simulator.fast_path import Conversation, conversations_to_frame, converse

    listener = ScriptedListener(user_id)
    conv = Conversation("scripted", user_id, policy().name, history)
    state = converse(MusicDialogueEngine(assets, use_history=history), policy(), listener, listener.first,
                     listener.reply, conv)
    return state, conversations_to_frame(assets, [conv], salt=SALT), listener


def _user_event(meaning):
    text = meaning.intent
    return {"event": "user", "text": text, "parse_data": {**parse_data(meaning), "text": text}}


def _slots(events):
    slots = {}
    for e in events:
        if e.get("event") == "slot":
            slots[e["name"]] = e["value"]
    return slots


def _run_action(action, events, sender):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    latest = next(e["parse_data"] for e in reversed(events) if e["event"] == "user")
    tracker = Tracker(sender, _slots(events), latest, list(events), False, None, None, "action_listen")
    dispatcher = CollectingDispatcher()
    returned = action.run(dispatcher, tracker, {})
    return [dict(e) for e in returned], dispatcher.messages


@pytest.fixture(scope="module")
def deployed(assets, user_id, history, tmp_path_factory):
    """The conversation through Rasa's policy, Rasa's rules and the rasa-sdk actions."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    import actions.actions as acts
    from custom_policies.rasa_policy import PromptSelectionPolicy
    from simulator.rasa_path import what_was_shown

    domain = Domain.load(str(ROOT / "domain.yml"))
    rasa_policy = PromptSelectionPolicy.create(
        {**PromptSelectionPolicy.get_default_config(), "use_history": history},
        LocalModelStorage(tmp_path_factory.mktemp("storage")), Resource("p"), ExecutionContext(GraphSchema({}), "t"))
    rasa_policy._prompt_policy = policy()
    rasa_policy._rng = None  # the greedy choice, as the fast path's converse without a policy rng
    by_name = {cls().name(): cls() for cls in (acts.ActionSuggestGenres, acts.ActionPlaySample, acts.ActionOfferStation,
                                              acts.ActionRelaxConstraint, acts.ActionStartStation, acts.ActionAbandon)}
    listener = ScriptedListener(user_id)
    events = [{"event": "session_started", "timestamp": 0.0},
              {"event": "action", "name": "action_listen", "timestamp": 1.0},
              {**_user_event(listener.first()), "timestamp": 2.0}]
    messages = []

    def run(name, metadata=None):
        returned, said = _run_action(by_name[name], events, user_id) if name in by_name else ([], [])
        events.append({"event": "action", "name": name, **({"metadata": metadata} if metadata else {})})
        events.extend(returned)
        messages.extend(said)
        for i, e in enumerate(events):
            if e.get("timestamp") is None:
                e["timestamp"] = float(i)
        return name

    for _ in range(20):
        meaning = next(e for e in reversed(events) if e["event"] == "user")["parse_data"]["intent"]["name"]
        slots = _slots(events)
        last_action = next(e["name"] for e in reversed(events) if e["event"] == "action" and e["name"] != "action_listen")\
            if any(e["event"] == "action" and e["name"] != "action_listen" for e in events) else None
        # rasa_project/data/rules.yml
        if meaning in ("affirm", "accept") and slots.get("pending_relax"):
            run("action_relax_constraint")
        elif meaning == "accept" or (meaning == "affirm" and last_action == "action_offer_station"):
            run("action_start_station")
            break
        elif meaning == "stop":
            run("action_abandon")
            break
        else:
            tracker = DialogueStateTracker.from_dict(user_id, events, domain.slots)
            prediction = rasa_policy.predict_action_probabilities(tracker, domain)
            name = domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
            events.extend(e.as_dict() for e in prediction.events)  # the tone slots, set before the action
            run(name, prediction.action_metadata)
        events.append({"event": "action", "name": "action_listen", "timestamp": float(len(events))})
        prompt, shown, _ = what_was_shown(events, assets)
        events.append({**_user_event(listener.reply(prompt, shown)), "timestamp": float(len(events))})
    return events, messages, listener


def _comparable(state: DialogueState) -> dict:
    d = asdict(state)
    d.pop("candidates")
    return d


def test_the_script_goes_where_it_should(simulated, deployed):
    state, frame, listener = simulated
    assert list(frame["prompt"]) == PROMPTS
    relax_offer = listener.shown[3]
    assert relax_offer.relax == "era" and relax_offer.row is None  # asked first, nothing played yet
    assert listener.shown[4].dropped == "era" and listener.shown[4].row is not None
    assert state.slots["era"] is None and state.slots["energy"] == "upbeat"
    assert state.stations_offered == 1 and len(state.samples) == 2 and state.rejected[0] == state.samples[0]
    # the greedy choice: 0.8 + 0.2 / (the prompts exploration may try there: 8, or 7 after a question)
    allowed = (~never_asked(np.stack(frame["features"].to_numpy()))).sum(axis=1)
    assert set(allowed) == {7, 8}
    assert frame["success"].all() and np.allclose(frame["propensity"], 0.8 + 0.2 / allowed)
    _, messages, _ = deployed
    said = [m.get("response") for m in messages]
    assert said.index("utter_nothing_matches") < said.index("utter_relaxed") < said.index("utter_offer_station")


def test_same_states(assets, simulated, deployed, history):
    state, _, _ = simulated
    events, _, _ = deployed
    assert [e["value"] for e in events if e.get("name") == "history_in_use"] == [history] * len(PROMPTS)
    replayed = state_from_events(events, state.user_id, MusicDialogueEngine(assets, use_history=history))
    assert _comparable(replayed) == _comparable(state)


def test_same_logged_rows(assets, simulated, deployed, user_id):
    from policy_learning.log_export import export_trackers

    _, sim_frame, _ = simulated
    events, _, _ = deployed
    rasa_frame, report = export_trackers([(user_id, events)], MusicDialogueEngine(assets), salt=SALT)
    assert not report.problems and report.outcomes == {"accepted": 1}
    assert list(sim_frame.columns) == list(rasa_frame.columns)
    pd.testing.assert_frame_equal(sim_frame.drop(columns="conversation_id"),
                                  rasa_frame.drop(columns="conversation_id"))
    assert list(sim_frame["reward"]) == list(rasa_frame["reward"]) and sim_frame["reward"].sum() > 0


@pytest.mark.parametrize("slot, expected", [(True, True), (False, False), (None, True)])
def test_the_action_server_retrieves_with_the_policys_history_setting(slot, expected):
    from rasa_sdk import Tracker

    import actions.actions as acts

    tracker = Tracker("someone", {"history_in_use": slot}, {}, [], False, None, None, "action_listen")
    assert acts.tracker_engine(tracker).use_history is expected


@pytest.mark.parametrize("entities, asks_anew", [([], False), ([{"entity": "critique", "value": "newer"}], True),
                                                 ([{"entity": "genre", "value": "rock"}], True)])
def test_a_yes_after_the_station_started_is_no_new_prompt(assets, tmp_path, entities, asks_anew):
    """`make shell`: "more like this one" started the station; "yes" after it was offered a station
    again. A plain yes goes to the start action (which says the station is playing); a yes that
    asks for something anew gets a prompt."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from custom_policies.rasa_policy import PromptSelectionPolicy
    from prompt_policies import RuleBasedPromptPolicy

    domain = Domain.load(str(ROOT / "domain.yml"))
    pol = PromptSelectionPolicy.create(PromptSelectionPolicy.get_default_config(), LocalModelStorage(tmp_path),
                                       Resource("p"), ExecutionContext(GraphSchema({}), "t"))
    pol._prompt_policy, pol._rng = RuleBasedPromptPolicy(), None
    track = str(assets.catalog["track_id"].iat[3])

    def user(intent, ents=()):
        return {"event": "user", "text": intent,
                "parse_data": {"intent": {"name": intent, "confidence": 0.99}, "entities": list(ents), "text": intent}}
    events = [{"event": "action", "name": "action_listen"}, user("request_music", [{"entity": "genre", "value": "rock"}]),
              {"event": "action", "name": "action_play_sample"}, {"event": "slot", "name": "last_sample", "value": track},
              {"event": "action", "name": "action_listen"}, user("accept"),
              {"event": "action", "name": "action_start_station"}, {"event": "slot", "name": "outcome", "value": "accepted"},
              {"event": "slot", "name": "station", "value": [track]},
              {"event": "action", "name": "action_listen"}, user("affirm", entities)]
    for i, e in enumerate(events):
        e["timestamp"] = float(i)
    tracker = DialogueStateTracker.from_dict("yes-after", events, domain.slots)
    prediction = pol.predict_action_probabilities(tracker, domain)
    name = domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
    assert (name != "action_start_station") == asks_anew, name
