"""The rule-based baseline: the scripted prompt order the assistant started with."""
from __future__ import annotations

import numpy as np

from music_domain.dialogue_state import DialogueState, feature_names
from music_domain.prompts import N_PROMPTS
from music_domain.reactions import LIKED_SENTIMENT, is_liked
from prompt_policies.base import PROMPT_INDEX, PromptPolicy, one_hot


class RuleBasedPromptPolicy(PromptPolicy):
    """The scripted baseline, driven by which slots are filled.

    1. A liked sample -> offer a station of music like it.
    1a. The latest message named an artist or a song (a retrieval seed), or an artist the
        catalogue lacks whose genre family is known -> a sample by / near / in the vein of it.
    1b. It critiqued the track just played ("too slow", "something newer", "not that genre",
        "more like that") -> another sample, which honours that direction (instead of asking about
        a slot the critique already answers or the listener did not care to fill).
    1c. It named only artists the catalogue lacks, with no known vein -> a genre suggestion (a
        question that says so: "I don't have X ... Electronic? Or rock?"), up to twice.
    2. Nothing known yet -> the open question ("Anything in mind?"), once.
    3. Energy unknown -> "Something laid back? Or more upbeat?", once.
    4. Genre unknown -> a genre pair suggestion, up to twice.
    5. Era unknown -> ask the decade, once.
    6. Otherwise play a sample (the retriever avoids rejected ones).

    The rules read only what the state features hold, so the same policy is known on logged
    states too (``probabilities_batch``): off-policy evaluation and mixtures with a learned
    policy need it on logs written by any earlier policy.
    """

    name = "rule_based"
    version = "3"

    def choose_prompt(self, state: DialogueState) -> str:
        asked = state.asked
        if state.liked_sample is not None and state.last_prompt == "play_sample" \
                and state.sentiments and is_liked(state.sentiments[-1]):
            return "offer_station"
        filled = state.filled()
        if state.named_seed() or state.critiqued:
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

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        """The same rules on (n, F) state features (with or without the history features)."""
        X = np.asarray(X, dtype=np.float64)
        names = feature_names(X.shape[1] == len(feature_names(True)))
        if X.ndim != 2 or X.shape[1] != len(names):
            raise ValueError(f"expected state features of {len(names)} columns, got shape {X.shape}")
        f = {n: X[:, i] for i, n in enumerate(names)}
        choice = np.full(len(X), PROMPT_INDEX["play_sample"])
        # the rules in reverse order of precedence, so that earlier rules overwrite later ones
        choice[(f["filled_era"] == 0) & (f["asked_ask_era"] == 0)] = PROMPT_INDEX["ask_era"]
        choice[(f["filled_genre"] == 0) & (f["asked_suggest_genres"] < 2)] = PROMPT_INDEX["suggest_genres"]
        choice[(f["filled_energy"] == 0) & (f["asked_ask_energy"] == 0)] = PROMPT_INDEX["ask_energy"]
        choice[(f["n_filled"] == 0) & (f["asked_ask_open"] == 0)] = PROMPT_INDEX["ask_open"]
        choice[(f["named_unknown"] > 0) & (f["filled_genre"] == 0) & (f["asked_suggest_genres"] < 2)] = \
            PROMPT_INDEX["suggest_genres"]
        choice[(f["named_seed"] > 0) | (f["critiqued"] > 0)] = PROMPT_INDEX["play_sample"]
        liked = (f["has_liked_sample"] > 0) & (f["last_play_sample"] > 0) & (f["last_sentiment"] >= LIKED_SENTIMENT)
        choice[liked] = PROMPT_INDEX["offer_station"]
        out = np.zeros((len(X), N_PROMPTS))
        out[np.arange(len(X)), choice] = 1.0
        return out
