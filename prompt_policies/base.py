"""The prompt-policy interface.

A prompt policy maps a ``DialogueState`` to a probability for every prompt in
``music_domain.prompts.PROMPT_NAMES``. Deterministic policies put all mass on one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from music_domain.dialogue_state import DialogueState
from music_domain.prompts import N_PROMPTS, PROMPT_NAMES

PROMPT_INDEX = {p: i for i, p in enumerate(PROMPT_NAMES)}


def one_hot(prompt: str) -> np.ndarray:
    p = np.zeros(N_PROMPTS)
    p[PROMPT_INDEX[prompt]] = 1.0
    return p


class PromptPolicy:
    name = "base"
    version = "0"
    uses_history = False

    def probabilities(self, state: DialogueState) -> np.ndarray:
        raise NotImplementedError

    def choose(self, state: DialogueState, rng: Optional[np.random.Generator] = None) -> "Decision":
        p = self.probabilities(state)
        if rng is None:
            i = int(np.argmax(p))
        else:
            i = int(rng.choice(N_PROMPTS, p=p))
        return Decision(PROMPT_NAMES[i], float(p[i]), p, self.name, self.version)


@dataclass
class Decision:
    prompt: str
    propensity: float
    probabilities: np.ndarray
    policy: str
    version: str

    def metadata(self) -> dict:
        """What is logged with the ``ActionExecuted`` event of the prompt."""
        return {"prompt": self.prompt, "propensity": self.propensity,
                "candidates": list(PROMPT_NAMES), "probabilities": [float(x) for x in self.probabilities],
                "policy": self.policy, "policy_version": self.version}
