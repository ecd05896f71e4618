"""Prompt policies learned offline from logs.

``LearnedPromptPolicy`` (contextual bandit): argmax over prompts of the reward model's
predicted prompt usefulness. ``FittedQPolicy`` (sequential): argmax of a Q function
fitted by fitted Q iteration over whole logged conversations.
"""
from __future__ import annotations

import numpy as np

from prompt_policies.base import PromptPolicy
from music_domain.dialogue_state import DialogueState, state_features
from music_domain.prompts import N_PROMPTS


class _ArgmaxPolicy(PromptPolicy):
    def __init__(self, model, with_history: bool, name: str, version: str):
        self.model = model
        self.uses_history = with_history
        self.name = name
        self.version = version

    def scores(self, state: DialogueState) -> np.ndarray:
        x = state_features(state, with_history=self.uses_history)[None, :]
        return self.model.predict(x)[0]

    def probabilities(self, state: DialogueState) -> np.ndarray:
        p = np.zeros(N_PROMPTS)
        p[int(np.argmax(self.scores(state)))] = 1.0
        return p

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        """Target action probabilities for many logged states at once (for OPE)."""
        s = self.model.predict(X)
        p = np.zeros_like(s)
        p[np.arange(len(s)), np.argmax(s, axis=1)] = 1.0
        return p


class LearnedPromptPolicy(_ArgmaxPolicy):
    def __init__(self, reward_model, with_history: bool, version: str = "1"):
        super().__init__(reward_model, with_history, "learned_history" if with_history else "learned", version)


class FittedQPolicy(_ArgmaxPolicy):
    def __init__(self, q_model, with_history: bool, version: str = "1"):
        super().__init__(q_model, with_history, "fqi_history" if with_history else "fqi", version)
