"""Prompt policies learned offline from logs.

``LearnedPromptPolicy`` (contextual bandit): argmax over prompts of the reward model's
predicted prompt usefulness. ``FittedQPolicy`` (sequential): argmax of a Q function
fitted by fitted Q iteration over whole logged conversations.
"""
from __future__ import annotations

import numpy as np

from prompt_policies.base import PROMPT_INDEX, PromptPolicy
from music_domain.dialogue_state import DialogueState, feature_names, state_features

# Questions a learned policy never asks twice in a row: the listener has just answered that very
# question ("Anything in mind?" - "nah"), and asking it again word for word is what a person would
# not do. The rule-based policy never does (it asks each of them once); a genre suggestion may
# follow another (it names other genres), and samples and stations follow each other by design.
NOT_TWICE_IN_A_ROW = ("ask_open", "ask_energy", "ask_era", "ask_activity", "ask_artist")
# Questions a learned policy never asks right after the listener named a catalogue artist or song
# (or an unknown artist's vein): the answer to "Could you add some music from Kenny G?" is music,
# not "Anything in mind?", which a promoted policy asked (`make shell`). The rule-based policy
# plays a sample at once; a learned one may also offer a station.
NOT_AFTER_A_NAME = ("ask_open", "ask_energy", "suggest_genres", "ask_era", "ask_activity", "ask_artist")


class _ArgmaxPolicy(PromptPolicy):
    def __init__(self, model, with_history: bool, name: str, version: str):
        self.model = model
        self.uses_history = with_history
        self.name = name
        self.version = version

    def probabilities(self, state: DialogueState) -> np.ndarray:
        return self.probabilities_batch(state_features(state, with_history=self.uses_history)[None, :])[0]

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        """Target action probabilities for many states at once (live, one row; OPE, logged rows):
        all mass on the best-scored prompt that is not the question just asked, nor a question
        right after a named artist or song."""
        X = np.asarray(X)
        s = np.asarray(self.model.predict(X), dtype=np.float64).copy()
        names = feature_names(self.uses_history)
        for prompt in NOT_TWICE_IN_A_ROW:
            s[X[:, names.index(f"last_{prompt}")] > 0, PROMPT_INDEX[prompt]] = -np.inf
        named = X[:, names.index("named_seed")] > 0
        for prompt in NOT_AFTER_A_NAME:
            s[named, PROMPT_INDEX[prompt]] = -np.inf
        p = np.zeros_like(s)
        p[np.arange(len(s)), np.argmax(s, axis=1)] = 1.0
        return p


class LearnedPromptPolicy(_ArgmaxPolicy):
    def __init__(self, reward_model, with_history: bool, version: str = "1"):
        super().__init__(reward_model, with_history, "learned_history" if with_history else "learned", version)


class FittedQPolicy(_ArgmaxPolicy):
    def __init__(self, q_model, with_history: bool, version: str = "1"):
        super().__init__(q_model, with_history, "fqi_history" if with_history else "fqi", version)
