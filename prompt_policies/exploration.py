"""Exploration around any prompt policy, with the propensities the logs need."""
from __future__ import annotations

import numpy as np

from music_domain.dialogue_state import DialogueState
from music_domain.prompts import N_PROMPTS
from prompt_policies.base import PromptPolicy


class ExplorationPolicy(PromptPolicy):
    """Epsilon-greedy or softmax exploration around any prompt policy.

    epsilon-greedy: p = (1 - epsilon) * base + epsilon / N, so every prompt keeps
    propensity >= epsilon / N. softmax: p = softmax(log(base + 1e-3) / temperature).
    """

    def __init__(self, base: PromptPolicy, epsilon: float = 0.2, mode: str = "epsilon_greedy",
                 temperature: float = 1.0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if mode not in ("epsilon_greedy", "softmax"):
            raise ValueError(f"unknown exploration mode {mode!r}")
        self.base = base
        self.epsilon = epsilon
        self.mode = mode
        self.temperature = temperature
        self.name = f"{base.name}+{mode}({epsilon:g})"
        self.version = base.version  # the deployed artefact's version; the exploration is in the name
        self.uses_history = base.uses_history

    def probabilities(self, state: DialogueState) -> np.ndarray:
        return self._explore(self.base.probabilities(state))

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        """On logged states (when the base policy is known there)."""
        from prompt_policies.mixture import _batch

        return self._explore(_batch(self.base, X))

    def _explore(self, base: np.ndarray) -> np.ndarray:
        if self.mode == "epsilon_greedy":
            return (1.0 - self.epsilon) * base + self.epsilon / N_PROMPTS
        z = np.log(base + 1e-3) / max(self.temperature, 1e-6)
        z = np.exp(z - z.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)
