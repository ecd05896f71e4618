"""Exploration around any prompt policy, with the propensities the logs need."""
from __future__ import annotations

from typing import Optional

import numpy as np

from music_domain.dialogue_state import DialogueState, state_features
from prompt_policies.base import PromptPolicy, never_asked

MODES = ("epsilon_greedy", "softmax", "directed")
GUIDE_SHARE = 0.5  # directed: the share of the exploration that follows the guide


class ExplorationPolicy(PromptPolicy):
    """Epsilon-greedy, softmax or directed exploration around any prompt policy.

    epsilon-greedy: p = (1 - epsilon) * base + epsilon / N, so every prompt keeps
    propensity >= epsilon / N. N counts the prompts a policy may ask in the state
    (``base.never_asked``: not the question just answered, no question right after a name).
    softmax: p = softmax(log(base + 1e-3) / temperature), over the same prompts.
    directed: p = (1 - epsilon) * base + epsilon * (GUIDE_SHARE * guide + (1 - GUIDE_SHARE) / N),
    where ``guide`` is the newest learned component of ``base`` (``guide_of``): the same
    exploration budget as epsilon-greedy, half of it spent on what the newest learned model would
    ask. Uniform exploration gives a prompt the deployed policy does not choose only epsilon / N,
    so the next candidate, which moves toward the learned model, has little support in the logs;
    directed exploration logs those choices more often, and every allowed prompt keeps
    propensity >= epsilon * (1 - GUIDE_SHARE) / N. With no learned component (the rule-based
    policy) it is epsilon-greedy.
    """

    def __init__(self, base: PromptPolicy, epsilon: float = 0.2, mode: str = "epsilon_greedy",
                 temperature: float = 1.0):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        if mode not in MODES:
            raise ValueError(f"unknown exploration mode {mode!r} (one of {', '.join(MODES)})")
        self.base = base
        self.epsilon = epsilon
        self.mode = mode
        self.temperature = temperature
        self.guide = guide_of(base) if mode == "directed" else None
        self.name = f"{base.name}+{mode}({epsilon:g})"
        self.version = base.version  # the deployed artefact's version; the exploration is in the name
        self.uses_history = base.uses_history

    def probabilities(self, state: DialogueState) -> np.ndarray:
        allowed = ~never_asked(state_features(state, with_history=self.uses_history)[None, :])[0]
        if self.guide is None:
            return self._explore(self.base.probabilities(state), allowed)
        guide = self.guide.probabilities(state)
        return self._explore(self._base_reusing(guide, lambda p: p.probabilities(state)), allowed, guide)

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        """On logged states (when the base policy is known there)."""
        from prompt_policies.mixture import _batch

        allowed = ~never_asked(X)
        if self.guide is None:
            return self._explore(_batch(self.base, X), allowed)
        guide = _batch(self.guide, X)
        return self._explore(self._base_reusing(guide, lambda p: _batch(p, X)), allowed, guide)

    def _base_reusing(self, guide: np.ndarray, probs) -> np.ndarray:
        """The base policy's probabilities, with the guide's (one of its components) computed
        once: the guide's model is not run a second time inside the mixture."""
        from prompt_policies.mixture import MixturePolicy

        if self.base is self.guide:
            return guide
        if isinstance(self.base, MixturePolicy):
            return self.base.combine(lambda p: guide if p is self.guide else probs(p))
        return probs(self.base)

    def _explore(self, base: np.ndarray, allowed: np.ndarray, guide: Optional[np.ndarray] = None) -> np.ndarray:
        """``allowed``: the prompts exploration may try (``never_asked``'s complement, same shape
        as ``base``); the uniform part is spread over them only, so exploring never repeats the
        question just answered nor asks one after a name (which a listener heard in `make shell`
        as the same question twice in a row). The base and the guide never choose those either."""
        uniform = allowed / np.maximum(allowed.sum(axis=-1, keepdims=True), 1)
        if self.mode == "softmax":
            z = np.log(base + 1e-3) / max(self.temperature, 1e-6)
            z = np.exp(z - z.max(axis=-1, keepdims=True)) * np.where(allowed | (base > 0), 1.0, 0.0)
            return z / z.sum(axis=-1, keepdims=True)
        if guide is None:  # epsilon-greedy, or directed with nothing learned to follow
            return (1.0 - self.epsilon) * base + self.epsilon * uniform
        return ((1.0 - self.epsilon) * base + self.epsilon * GUIDE_SHARE * guide
                + self.epsilon * (1.0 - GUIDE_SHARE) * uniform)


def guide_of(policy: PromptPolicy) -> Optional[PromptPolicy]:
    """The newest learned component of a deployed policy (the last one a promotion added to a
    mixture, or the policy itself when it is learned), or None for a policy with none."""
    from prompt_policies.learned import _ArgmaxPolicy
    from prompt_policies.mixture import MixturePolicy

    if isinstance(policy, _ArgmaxPolicy):
        return policy
    if isinstance(policy, MixturePolicy):
        learned = [p for _, p in policy.components if isinstance(p, _ArgmaxPolicy)]
        return learned[-1] if learned else None
    return None
