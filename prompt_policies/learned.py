"""Prompt policies learned offline from logs.

``LearnedPromptPolicy`` (contextual bandit): argmax over prompts of the reward model's
predicted prompt usefulness. ``FittedQPolicy`` (sequential): argmax of a Q function
fitted by fitted Q iteration over whole logged conversations.
"""
from __future__ import annotations

import numpy as np

from prompt_policies.base import NOT_AFTER_A_NAME, NOT_TWICE_IN_A_ROW, PromptPolicy, never_asked
from music_domain.dialogue_state import DialogueState, state_features

# the questions a learned policy never asks (just answered, or right after a name): base.py
__all__ = ["LearnedPromptPolicy", "FittedQPolicy", "NOT_TWICE_IN_A_ROW", "NOT_AFTER_A_NAME"]


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
        s[never_asked(X)] = -np.inf
        p = np.zeros_like(s)
        p[np.arange(len(s)), np.argmax(s, axis=1)] = 1.0
        return p


class LearnedPromptPolicy(_ArgmaxPolicy):
    def __init__(self, reward_model, with_history: bool, version: str = "1"):
        super().__init__(reward_model, with_history, "learned_history" if with_history else "learned", version)


class FittedQPolicy(_ArgmaxPolicy):
    def __init__(self, q_model, with_history: bool, version: str = "1"):
        super().__init__(q_model, with_history, "fqi_history" if with_history else "fqi", version)
