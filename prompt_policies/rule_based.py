"""The rule-based baseline: the scripted prompt order the assistant started with."""
from __future__ import annotations

import numpy as np

from music_domain.dialogue_state import DialogueState
from music_domain.reactions import is_liked
from prompt_policies.base import PromptPolicy, one_hot


class RuleBasedPromptPolicy(PromptPolicy):
    """The scripted baseline, driven by which slots are filled.

    1. A liked sample -> offer a station of music like it.
    1a. The latest message named an artist or a song (a retrieval seed), or an artist the
        catalogue lacks whose genre family is known -> a sample by / near / in the vein of it.
    1b. It named only artists the catalogue lacks, with no known vein -> a genre suggestion (a
        question that says so: "I don't have X ... Electronic? Or rock?"), up to twice.
    2. Nothing known yet -> the open question ("Anything in mind?"), once.
    3. Energy unknown -> "Something laid back? Or more upbeat?", once.
    4. Genre unknown -> a genre pair suggestion, up to twice.
    5. Era unknown -> ask the decade, once.
    6. Otherwise play a sample (the retriever avoids rejected ones).
    """

    name = "rule_based"
    version = "2"

    def choose_prompt(self, state: DialogueState) -> str:
        asked = state.asked
        if state.liked_sample is not None and state.last_prompt == "play_sample" \
                and state.sentiments and is_liked(state.sentiments[-1]):
            return "offer_station"
        filled = state.filled()
        if state.named_seed():
            return "play_sample"
        if state.named and not filled["genre"] and asked.get("suggest_genres", 0) < 2:
            return "suggest_genres"
        if not any(filled.values()) and not asked.get("ask_open"):
            return "ask_open"
        if not filled["energy"] and not asked.get("ask_energy"):
            return "ask_energy"
        if not filled["genre"] and asked.get("suggest_genres", 0) < 2:
            return "suggest_genres"
        if not filled["era"] and not asked.get("ask_era"):
            return "ask_era"
        return "play_sample"

    def probabilities(self, state: DialogueState) -> np.ndarray:
        return one_hot(self.choose_prompt(state))
