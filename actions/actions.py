"""The rasa-sdk action server: samples, genre suggestions, stations, outcomes.

Every action rebuilds the dialogue state from the tracker's events (the same replay the
policy uses), lets the shared prompt executor (``MusicDialogueEngine.execute``) carry out the
prompt, and only renders what it returns, so the running assistant is the simulated one.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from embeddings.assets import load_assets
from music_domain.attributes import ATTRIBUTES, activity_phrase, display_genre
from music_domain.dialogue_engine import MusicDialogueEngine, Shown
from music_domain.mentions import unknown_reply
from music_domain.prompts import PROMPT_BY_NAME
from music_domain.samples import sample_line, sample_payload, spoken_title
from music_domain.tracker_replay import state_from_events

logger = logging.getLogger(__name__)
HISTORY_SLOT = "history_in_use"  # set by the prompt policy from its use_history setting
_engines: Dict[bool, MusicDialogueEngine] = {}


def engine(use_history: bool = True) -> MusicDialogueEngine:
    if use_history not in _engines:
        _engines[use_history] = MusicDialogueEngine(load_assets(), use_history=use_history)
    return _engines[use_history]


def tracker_engine(tracker: Tracker) -> MusicDialogueEngine:
    """The engine with the history setting of the policy that chose the action (history on
    when no policy said, as for conversations logged before the slot existed)."""
    return engine(tracker.get_slot(HISTORY_SLOT) is not False)


def current_state(tracker: Tracker):
    return state_from_events(tracker.applied_events(), tracker.sender_id, tracker_engine(tracker))


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
        parts.append(f"for {activity_phrase(slots['activity'])}")
    if slots.get("artist"):
        parts.append(f"like {slots['artist']}")
    return " ".join(parts)


def station_description(slots: Dict[str, Any], seed: Optional[Dict[str, Any]]) -> str:
    """What the started station is like: the slots, and the track it was offered as ("upbeat music
    like Jigsaw Falling Into Place by Radiohead"), which is its seed, rather than an artist named
    earlier (the offer "like Flowers by Miley Cyrus" was confirmed as "music like Taylor Swift")."""
    if not seed:
        return describe(slots)
    return describe({**slots, "artist": f"{spoken_title(seed['track_name'])} by {seed['artist_name']}"})


def say_unknown_mentions(dispatcher: CollectingDispatcher, tracker: Tracker, playing: bool = True) -> None:
    """An artist or song the listener named that the catalogue lacks: said, never silently matched
    ("... here's something in the same vein" before a sample, "... I can't match that directly"
    before a question)."""
    note = unknown_reply((tracker.latest_message or {}).get("entities"), playing=playing)
    if note:
        dispatcher.utter_message(text=note)


SHELL_CHANNEL = "cmdline"  # `rasa shell` prints custom payloads as raw JSON; it gets the one-line form


def sample_message(dispatcher: CollectingDispatcher, track: Dict[str, Any], response: str,
                   channel: Optional[str] = None, **extra) -> None:
    """The sample's introduction (title and artist) and its payload (``music_domain.samples``):
    channels play ``audio_url`` when there is one; the shell shows one readable line."""
    dispatcher.utter_message(response=response, track=spoken_title(track["track_name"]), artist=track["artist_name"],
                             **extra)
    payload = sample_payload(track)
    if channel == SHELL_CHANNEL:
        dispatcher.utter_message(text=sample_line(payload))
    else:
        dispatcher.utter_message(json_message=payload)


def unknown_year_note(n: int, era: str) -> str:
    """Why an era emptied the candidates when tracks of unknown year would otherwise fit."""
    tracks = "track fits" if n == 1 else "tracks fit"
    return (f"{n:,} {tracks} everything else, but I don't know when {'it was' if n == 1 else 'they were'} "
            f"released, so I can't say {'it is' if n == 1 else 'they are'} from the {era}.")


def render(dispatcher: CollectingDispatcher, state, shown: Shown, channel: Optional[str] = None) -> List[Dict[Text, Any]]:
    """Say what the engine's prompt executor did (``MusicDialogueEngine.execute``/``relax``);
    returns the slot events that record it for the tracker replay."""
    events: List[Dict[Text, Any]] = []
    if shown.dropped:
        events.append(SlotSet(shown.dropped, None))
        if shown.dropped == "genre":
            events.append(SlotSet("subgenre", None))
        dispatcher.utter_message(response="utter_relaxed", attribute=shown.dropped)
    if shown.genres:
        names = [display_genre(g).capitalize() for g in shown.genres]
        dispatcher.utter_message(response="utter_suggest_genres", genre_a=names[0], genre_b=names[-1])
        return events + [SlotSet("offered_genres", state.offered_genres)]
    if shown.rows:
        assets = engine().assets
        sample_message(dispatcher, assets.track(shown.rows[0]), "utter_offer_station", channel,
                       description=describe(state.slots if engine().station_keeps_to_slots(state) else {}))
        return events + [SlotSet("station", [assets.track(r)["track_id"] for r in shown.rows])]
    if shown.exhausted or shown.relax:
        if shown.unknown_year and state.slots.get("era"):
            dispatcher.utter_message(text=unknown_year_note(shown.unknown_year, state.slots["era"]))
        # every track that matches was played already, or nothing matches at all
        all_played = shown.exhausted and bool(engine().arrays.mask(state.slots).any())
        said = "utter_all_played" if all_played else "utter_nothing_matches"
        if shown.relax:
            dispatcher.utter_message(response=said, description=describe(state.slots), attribute=shown.relax)
            return events + [SlotSet("pending_relax", shown.relax)]  # a yes drops it (rules.yml)
        # no one constraint to offer: dropping none alone helps, or the listener said no to each
        dispatcher.utter_message(response=f"{said}_change", description=describe(state.slots))
        return events
    if shown.row is not None:
        track = engine().assets.track(shown.row)
        # the first sample of a conversation has its own wording: "Let's try something a bit
        # different ... Better?" (a frustrated listener's next sample) presumes one was played
        first = len(state.samples) <= 1 and not state.stations_offered  # an offer plays a track too
        sample_message(dispatcher, track, "utter_first_sample" if first else "utter_sample", channel)
        return events + [SlotSet("last_sample", track["track_id"])]
    return events


class PromptAction:
    """A prompt the policy chose: the engine carries it out, the action says it. (A mixin, so
    rasa-sdk registers only the concrete actions below.)"""
    prompt = ""

    def name(self) -> Text:
        return PROMPT_BY_NAME[self.prompt].action

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        say_unknown_mentions(dispatcher, tracker, playing=self.prompt != "suggest_genres")
        state = current_state(tracker)
        return render(dispatcher, state, tracker_engine(tracker).execute(self.prompt, state),
                      tracker.get_latest_input_channel())


class ActionSuggestGenres(PromptAction, Action):
    prompt = "suggest_genres"


class ActionPlaySample(PromptAction, Action):
    prompt = "play_sample"


class ActionOfferStation(PromptAction, Action):
    prompt = "offer_station"


class ActionRelaxConstraint(Action):
    """The listener agreed to drop the constraint offered when nothing matched."""

    def name(self) -> Text:
        return "action_relax_constraint"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        state = current_state(tracker)
        shown = tracker_engine(tracker).relax(state, tracker.get_slot("pending_relax"))
        return [SlotSet("pending_relax", None)] + render(dispatcher, state, shown, tracker.get_latest_input_channel())


def _played_since_the_station(tracker: Tracker) -> bool:
    """Was a sample played or another station offered after the station last started? (`make
    shell`: "something newer" once the station played gave a new sample, and "ok start a station"
    was answered "Your station is already playing".)"""
    events = list(tracker.events or [])
    started = max((i for i, e in enumerate(events) if e.get("event") == "slot" and e.get("name") == "outcome"
                   and e.get("value") == "accepted"), default=None)
    return started is not None and any(
        e.get("event") == "action" and e.get("name") in ("action_play_sample", "action_offer_station")
        for e in events[started + 1:])


class ActionStartStation(Action):
    def name(self) -> Text:
        return "action_start_station"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        asks_anew = any(e.get("entity") in ATTRIBUTES + ("work",) for e in tracker.latest_message.get("entities") or [])
        if tracker.get_slot("outcome") == "accepted" and tracker.get_slot("station") and not asks_anew \
                and not _played_since_the_station(tracker):
            # "start it" once more after the station started: `make shell` said "Great, starting
            # your station ..." a second time; a new request ("start a jazz station") starts anew
            dispatcher.utter_message(response="utter_station_playing")
            return []
        state = current_state(tracker)
        eng = tracker_engine(tracker)
        source, rows = eng.accepted_station(state)
        if not rows:
            if source == "request":
                # "a station of upbeat 90s rock" and nothing matches: say so and offer to drop the
                # constraint that frees the most tracks, as a sample would
                relax = eng.relax_if_empty(state)
                return render(dispatcher, state, Shown("offer_station", relax=relax, exhausted=relax is None,
                                                       unknown_year=eng.arrays.unknown_year(state.slots)),
                              tracker.get_latest_input_channel())
            # "start it" before anything was played or asked for: nothing to start yet
            dispatcher.utter_message(response="utter_nothing_to_start")
            return []
        station = [eng.assets.track(r)["track_id"] for r in rows]
        seed = None if source == "request" else eng.assets.track(rows[0])  # built from the request: no track to name
        # a station that could not keep to the slots (nothing matches them) is not described by them
        said = state.slots if eng.station_keeps_to_slots(state) else {}
        dispatcher.utter_message(response="utter_station_started", description=station_description(said, seed))
        return [SlotSet("outcome", "accepted"), SlotSet("station", station)]


class ActionAbandon(Action):
    def name(self) -> Text:
        return "action_abandon"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_abandon")
        return [SlotSet("outcome", "abandoned")]


class ActionNameTrack(Action):
    """"who is this?", "what song is this?": the name of what is playing (the sample, or the first
    track of the station offered or started) and the question that was pending, asked again. It
    changes nothing: a question is no reaction (``music_domain.reactions.NOT_REACTIONS``). Before
    this, "what song is this?" was read as a yes and started a station."""

    def name(self) -> Text:
        return "action_name_track"

    def run(self, dispatcher, tracker: Tracker, domain) -> List[Dict[Text, Any]]:
        state = current_state(tracker)
        started = tracker.get_slot("outcome") == "accepted"
        if state.station and (started or state.last_prompt == "offer_station"):
            row, response = state.station[0], "utter_name_playing_track" if started else "utter_name_station_track"
        elif state.samples:
            row, response = state.samples[-1], "utter_name_sample"
        else:
            dispatcher.utter_message(response="utter_nothing_playing")
            return []
        track = tracker_engine(tracker).assets.track(row)
        year = track.get("year")
        known_year = isinstance(year, (int, float)) and year == year
        dispatcher.utter_message(response=response, track=spoken_title(track["track_name"]), artist=track["artist_name"],
                                 year=f", from {int(year)}" if known_year else "")
        return []


HEARD_ATTRIBUTES = ATTRIBUTES


def _say(attribute: str, value: str) -> str:
    if attribute in ("genre", "subgenre"):
        return display_genre(value)
    if attribute == "energy":
        return "laid back" if value == "laid_back" else "upbeat"
    if attribute == "activity":
        return f"music for {activity_phrase(value)}"
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
