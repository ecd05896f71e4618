"""The prompt-policy interface, the rule-based baseline and the exploration wrapper.

A prompt policy maps a ``DialogueState`` to a probability for every prompt in
``music_domain.prompts.PROMPT_NAMES``. Deterministic policies put all mass on one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from music_domain.dialogue_state import DialogueState, LIKED_SENTIMENT
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


class RuleBasedPromptPolicy(PromptPolicy):
    """The scripted baseline, driven by which slots are filled.

    1. A liked sample -> offer a station of music like it.
    2. Nothing known yet -> the open question ("Anything in mind?"), once.
    3. Energy unknown -> "Something laid back? Or more upbeat?", once.
    4. Genre unknown -> a genre pair suggestion, up to twice.
    5. Era unknown -> ask the decade, once.
    6. Otherwise play a sample (the retriever avoids rejected ones).
    """

    name = "rule_based"
    version = "1"

    def choose_prompt(self, state: DialogueState) -> str:
        asked = state.asked
        if state.liked_sample is not None and state.last_prompt == "play_sample" \
                and state.sentiments and state.sentiments[-1] >= LIKED_SENTIMENT:
            return "offer_station"
        filled = state.filled()
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
        self.name = f"{base.name}+{mode}"
        self.version = f"{base.version}/eps={epsilon}"
        self.uses_history = base.uses_history

    def probabilities(self, state: DialogueState) -> np.ndarray:
        base = self.base.probabilities(state)
        if self.mode == "epsilon_greedy":
            return (1.0 - self.epsilon) * base + self.epsilon / N_PROMPTS
        z = np.log(base + 1e-3) / max(self.temperature, 1e-6)
        z = np.exp(z - z.max())
        return z / z.sum()


def policy_names() -> List[str]:
    return ["rule_based", "learned", "learned_history"]
