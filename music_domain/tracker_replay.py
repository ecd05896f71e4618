"""Rebuild a ``DialogueState`` by replaying a conversation's events.

Works on event dicts, so the Rasa policy (``DialogueStateTracker``) and the action server
(rasa-sdk ``Tracker``) build exactly the same state, and so does the log export.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple

from music_domain.critiques import from_entities as critiques_from_entities
from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
from music_domain.dialogue_state import SLOT_ATTRIBUTES, DialogueState
from music_domain.prompts import PROMPT_BY_ACTION

LISTENER_PREFIX = "user-"  # sender ids of listeners with a stored history


def listener_id(sender_id: Optional[str], assets) -> Optional[str]:
    """The history user a conversation belongs to, or None for a new listener."""
    if sender_id and sender_id in assets.profiles:
        return sender_id
    return None


def meaning_from_parse(parse: Dict[str, Any]) -> UserMeaning:
    parse = parse or {}
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    attributes, choice = {}, None
    for ent in parse.get("entities") or []:
        name, value = ent.get("entity"), ent.get("value")
        if name in SLOT_ATTRIBUTES and value and not ent.get("role"):  # a role: a seed, not the slot
            attributes.setdefault(name, str(value))
        elif name == "option" and value is not None:
            try:
                choice = int(value)
            except (TypeError, ValueError):
                pass
    sentiment = parse.get("sentiment")
    score = float(sentiment.get("score", 0.0)) if isinstance(sentiment, dict) else 0.0
    critiques, seeds = critiques_from_entities(parse.get("entities"))
    unknown = [{"name": str(e["value"]), "type": e.get("mention_type"), "vein": e.get("vein")}
               for e in parse.get("entities") or [] if e.get("entity") == "unknown_mention" and e.get("value")]
    play = [str(e["track_id"]) for e in parse.get("entities") or []
            if e.get("entity") == "work" and e.get("track_id") and not e.get("like")]
    return UserMeaning(intent, attributes, score, confidence, choice, critiques, seeds, unknown, play)


def parse_data(meaning: UserMeaning) -> Dict[str, Any]:
    """The NLU parse a message with this meaning gets (the inverse of ``meaning_from_parse``)."""
    entities = [{"entity": a, "value": v} for a, v in meaning.attributes.items()]
    if meaning.choice is not None:
        entities.append({"entity": "option", "value": str(meaning.choice)})
    entities += [{"entity": "unknown_mention", "value": u.get("name"), "mention_type": u.get("type"),
                  **({"vein": u["vein"]} if u.get("vein") else {})} for u in meaning.unknown]
    return {"intent": {"name": meaning.intent, "confidence": meaning.confidence}, "entities": entities,
            "sentiment": {"score": meaning.sentiment}}


def apply_event(state: DialogueState, event: Dict[str, Any], engine: MusicDialogueEngine
                ) -> Tuple[DialogueState, Optional[Dict[str, str]]]:
    """Replay one event dict. Returns the (possibly new) state and, for a user message, the
    attribute values it elicited."""
    assets = engine.assets
    kind = event.get("event")
    if kind == "action":
        prompt = PROMPT_BY_ACTION.get(event.get("name"))
        if prompt is not None:
            state.record_prompt(prompt.name)
    elif kind == "user":
        return state, engine.apply_user(state, meaning_from_parse(event.get("parse_data") or {}))
    elif kind == "slot":
        name, value = event.get("name"), event.get("value")
        if name == "last_sample" and value:
            row = assets.row_of(value)
            if row is not None and (not state.samples or state.samples[-1] != row):
                state.samples.append(row)
        elif name == "station" and isinstance(value, list):
            state.station = [r for r in (assets.row_of(t) for t in value) if r is not None]
        elif name == "offered_genres" and isinstance(value, list):
            state.offered_genres = list(value)
        elif name == "pending_relax":
            state.pending_relax = value or None
        elif name in SLOT_ATTRIBUTES and value is None:
            state.slots[name] = None  # a relaxed constraint
    elif kind in ("restart", "session_started"):
        state = DialogueState(user_id=state.user_id)
    return state, None


def state_from_events(events: Iterable[Dict[str, Any]], sender_id: Optional[str], engine: MusicDialogueEngine
                      ) -> DialogueState:
    state = DialogueState(user_id=listener_id(sender_id, engine.assets))
    for e in events:
        state, _ = apply_event(state, e, engine)
    return state
