"""Mixtures of prompt policies: the safe-policy-improvement candidates.

``MixturePolicy([(1 - alpha, current), (alpha, learned)])`` asks what ``current`` would ask
with probability 1 - alpha and what ``learned`` would ask with probability alpha, at every
decision. Its probabilities are the weighted sum of the components' (on a live state, and on
logged states for off-policy evaluation), so a candidate with a small alpha stays close to the
policy whose logs certify it. Mixtures of mixtures are flattened into one list of components.
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

import numpy as np

from music_domain.dialogue_state import DialogueState
from prompt_policies.base import PromptPolicy


class MixturePolicy(PromptPolicy):
    def __init__(self, components: Sequence[Tuple[float, PromptPolicy]], name: str = "mixture", version: str = "0"):
        flat: List[Tuple[float, PromptPolicy]] = []
        for w, policy in components:
            w = float(w)
            if not np.isfinite(w) or w < 0:
                raise ValueError(f"mixture weights must be finite and >= 0, got {w}")
            if w == 0:
                continue
            if isinstance(policy, MixturePolicy):
                flat += [(w * v, p) for v, p in policy.components]
            else:
                flat.append((w, policy))
        total = sum(w for w, _ in flat)
        if not flat or abs(total - 1.0) > 1e-6:
            raise ValueError(f"mixture weights must sum to 1, got {total}")
        self.components = [(w / total, p) for w, p in flat]
        self.name = name
        self.version = version
        self.uses_history = any(p.uses_history for _, p in self.components)

    def combine(self, probs: Callable[[PromptPolicy], np.ndarray]) -> np.ndarray:
        """The weighted sum of ``probs(component)`` over the components: the one place a
        mixture's probabilities are made (exploration passes a ``probs`` that reuses a
        component's probabilities it already has)."""
        return sum(w * probs(p) for w, p in self.components)

    def probabilities(self, state: DialogueState) -> np.ndarray:
        return self.combine(lambda p: p.probabilities(state))

    def probabilities_batch(self, X: np.ndarray) -> np.ndarray:
        return self.combine(lambda p: _batch(p, X))


def _batch(policy: PromptPolicy, X: np.ndarray) -> np.ndarray:
    """A component's probabilities on logged states; X holds every feature (with history),
    cut to what the component reads."""
    from music_domain.dialogue_state import feature_names

    if hasattr(policy, "uses_history") and not policy.uses_history and X.shape[1] == len(feature_names(True)):
        X = X[:, :len(feature_names(False))]
    return np.asarray(policy.probabilities_batch(X), float)
