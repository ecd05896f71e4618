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

# Prompts no policy of the assistant asks, learned or exploring, in the states below: what a person
# would not say next, whatever it might teach the logs.
# - A question the listener has just answered, asked again word for word ("Anything in mind?" -
#   "nah" - "Anything in mind?"). The rules ask each of them once; a genre suggestion may follow
#   another (it names other genres), and samples and stations follow each other by design.
NOT_TWICE_IN_A_ROW = ("ask_open", "ask_energy", "ask_era", "ask_activity", "ask_artist")
# - Any question right after the listener named a catalogue artist or song (or an unknown artist's
#   vein): "Could you add some music from Kenny G?" was answered "Anything in mind?" (`make shell`).
#   The rules play a sample at once; a station may be offered too.
NOT_AFTER_A_NAME = ("ask_open", "ask_energy", "suggest_genres", "ask_era", "ask_activity", "ask_artist")


def never_asked(X: np.ndarray) -> np.ndarray:
    """(n, N_PROMPTS) booleans: the prompts no policy asks in each of the states ``X`` (state
    features with or without the history ones), by the two rules above."""
    from music_domain.dialogue_state import feature_names

    X = np.asarray(X)
    names = feature_names(X.shape[1] == len(feature_names(True)))
    out = np.zeros((len(X), N_PROMPTS), bool)
    for prompt in NOT_TWICE_IN_A_ROW:
        out[X[:, names.index(f"last_{prompt}")] > 0, PROMPT_INDEX[prompt]] = True
    named = X[:, names.index("named_seed")] > 0
    for prompt in NOT_AFTER_A_NAME:
        out[named, PROMPT_INDEX[prompt]] = True
    return out


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
