"""The catalogue of prompts a prompt-selection policy chooses between.

Each prompt is a Rasa action of the project (``domain.yml``). ``elicits`` names the
attribute a listener's answer is expected to give, which is what the prompt-usefulness
reward checks against the music finally accepted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Prompt:
    name: str
    action: str
    elicits: Optional[str]  # attribute, "any" for the open question, None for samples/stations
    example: str


PROMPTS: Tuple[Prompt, ...] = (
    Prompt("ask_open", "utter_ask_open", "any", "Anything in mind?"),
    Prompt("ask_energy", "utter_ask_energy", "energy", "Something laid back? Or more upbeat?"),
    Prompt("suggest_genres", "action_suggest_genres", "genre", "Alternative rock? Or electronic?"),
    Prompt("ask_era", "utter_ask_era", "era", "Any particular decade?"),
    Prompt("ask_activity", "utter_ask_activity", "activity", "What's the music for? A workout, studying, a party?"),
    Prompt("ask_artist", "utter_ask_artist", "artist", "Any artist you'd like it to sound like?"),
    Prompt("play_sample", "action_play_sample", None, "How about this? Did you like it?"),
    Prompt("offer_station", "action_offer_station", None, "Shall I start a station of music like this?"),
)
PROMPT_NAMES: Tuple[str, ...] = tuple(p.name for p in PROMPTS)
PROMPT_BY_NAME: Dict[str, Prompt] = {p.name: p for p in PROMPTS}
PROMPT_BY_ACTION: Dict[str, Prompt] = {p.action: p for p in PROMPTS}
PROMPT_ACTIONS: Tuple[str, ...] = tuple(p.action for p in PROMPTS)
N_PROMPTS = len(PROMPTS)
