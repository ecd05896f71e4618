"""The rasa-sdk action server: samples, genre suggestions, stations, outcomes.

Every action rebuilds the dialogue state from the tracker's events (the same replay the
policy uses) and asks the shared ``MusicDialogueEngine`` what to play or suggest, so the
running assistant behaves like the simulated one.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from embeddings.assets import load_assets
from music_domain.attributes import display_genre
from music_domain.dialogue_engine import MusicDialogueEngine
from music_domain.mentions import unknown_reply
from custom_policies.tracker_state import state_from_events

logger = logging.getLogger(__name__)
_engine = None


def engine() -> MusicDialogueEngine:
    global _engine
    if _engine is None:
        _engine = MusicDialogueEngine(load_assets(), use_history=True)
    return _engine


def current_state(tracker: Tracker):
    return state_from_events(tracker.applied_events(), tracker.sender_id, engine())


def describe(slots: Dict[str, Any]) -> str:
    """'upbeat alternative rock from the 1990s for a workout'."""
    parts = []
    if slots.get("energy"):
        parts.append("laid back" if slots["energy"] == "laid_back" else "upbeat")
    if slots.get("mood"):
        parts.append(slots["mood"])
    genre = slots.get("subgenre") or slots.get("genre")
    parts.append(display_genre(genre) if genre else "music")
    if slots.get("era"):
        parts.append(f"from the {slots['era']}")
    if slots.get("activity"):
        parts.append(f"for {slots['activity']}")
    if slots.get("artist"):
        parts.append(f"like {slots['artist']}")
    return " ".join(parts)


def say_unknown_mentions(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """An artist or song the listener named that the catalogue lacks: said, never silently matched."""
    note = unknown_reply((tracker.latest_message or {}).get("entities"))
    if note:
        dispatcher.utter_message(text=note)


def sample_message(dispatcher: CollectingDispatcher, track: Dict[str, Any], response: str, **extra) -> None:
    dispatcher.utter_message(response=response, track=track["track_name"], artist=track["artist_name"],
                             json_message={"audio_url": track.get("preview_url"), "track_id": track["track_id"]},
                             **extra)


class ActionSuggestGenres(Action):
    def name(self) -> Text:
        return "action_suggest_genres"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        say_unknown_mentions(dispatcher, tracker)
        state = current_state(tracker)
        pair = engine().suggest_genres(state)
        names = [display_genre(g).capitalize() for g in pair]
        dispatcher.utter_message(response="utter_suggest_genres", genre_a=names[0], genre_b=names[-1])
        return [SlotSet("offered_genres", state.offered_genres)]


def play_sample(dispatcher, state) -> List[Dict[Text, Any]]:
    eng = engine()
    dropped = eng.relax_if_empty(state)
    if dropped:
        dispatcher.utter_message(response="utter_nothing_matches", description=describe(state.slots),
                                 attribute=dropped)
        return [SlotSet("pending_relax", dropped)]
    row = eng.pick_sample(state)
    if row is None:  # every matching track was already played
        dispatcher.utter_message(response="utter_nothing_matches", description=describe(state.slots),
                                 attribute=eng.arrays.relaxation(state.slots) or "constraints")
        return []
    track = eng.assets.track(row)
    sample_message(dispatcher, track, "utter_sample")
    return [SlotSet("last_sample", track["track_id"])]


class ActionPlaySample(Action):
    def name(self) -> Text:
        return "action_play_sample"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        say_unknown_mentions(dispatcher, tracker)
        return play_sample(dispatcher, current_state(tracker))


class ActionRelaxConstraint(Action):
    def name(self) -> Text:
        return "action_relax_constraint"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        attribute = tracker.get_slot("pending_relax")
        state = current_state(tracker)
        events = [SlotSet("pending_relax", None)]
        if attribute in state.slots:
            state.slots[attribute] = None
            events.append(SlotSet(attribute, None))
            if attribute == "genre":
                state.slots["subgenre"] = None
                events.append(SlotSet("subgenre", None))
            dispatcher.utter_message(response="utter_relaxed", attribute=attribute)
        return events + play_sample(dispatcher, state)


class ActionOfferStation(Action):
    def name(self) -> Text:
        return "action_offer_station"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        say_unknown_mentions(dispatcher, tracker)
        state = current_state(tracker)
        rows = engine().station(state)
        if not rows:
            return play_sample(dispatcher, state)
        track = engine().assets.track(rows[0])
        sample_message(dispatcher, track, "utter_offer_station", description=describe(state.slots))
        ids = [engine().assets.track(r)["track_id"] for r in rows]
        return [SlotSet("station", ids)]


class ActionStartStation(Action):
    def name(self) -> Text:
        return "action_start_station"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        state = current_state(tracker)
        station = tracker.get_slot("station")
        if not station and state.samples:
            station = [engine().assets.track(state.samples[-1])["track_id"]]
        dispatcher.utter_message(response="utter_station_started", description=describe(state.slots))
        return [SlotSet("outcome", "accepted"), SlotSet("station", station or [])]


class ActionAbandon(Action):
    def name(self) -> Text:
        return "action_abandon"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_abandon")
        return [SlotSet("outcome", "abandoned")]


HEARD_ATTRIBUTES = ("genre", "subgenre", "energy", "mood", "era", "activity", "artist")


def _say(attribute: str, value: str) -> str:
    if attribute in ("genre", "subgenre"):
        return display_genre(value)
    if attribute == "energy":
        return "laid back" if value == "laid_back" else "upbeat"
    if attribute == "activity":
        return f"music for {value}"
    if attribute == "artist":
        return f"something like {value}"
    return str(value)


class ActionConfirmHeard(Action):
    """Voice, low speech-recognition confidence: "Did you say jazz?" before acting on it."""

    def name(self) -> Text:
        return "action_confirm_heard"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        heard: Dict[str, str] = {}
        for ent in tracker.latest_message.get("entities") or []:
            if ent.get("entity") in HEARD_ATTRIBUTES and ent.get("value"):
                heard.setdefault(ent["entity"], str(ent["value"]))
        shown = {a: v for a, v in heard.items() if not (a == "genre" and "subgenre" in heard)}
        dispatcher.utter_message(response="utter_confirm_heard",
                                 heard=" and ".join(_say(a, v) for a, v in shown.items()) or "that")
        return [SlotSet("heard", heard)]


class ActionForgetHeard(Action):
    """The listener said no to "Did you say jazz?": drop what was misheard and ask again."""

    def name(self) -> Text:
        return "action_forget_heard"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        heard = tracker.get_slot("heard") or {}
        dispatcher.utter_message(response="utter_forget_heard")
        return [SlotSet(a, None) for a in heard if a in HEARD_ATTRIBUTES] + [SlotSet("heard", None)]
