"""Fitted Q iteration: a sequential learner over whole logged conversations.

Reward per step: ``success_reward`` at the step that ends in acceptance, minus
``turn_cost`` for every prompt, so the value trades success against conversation length.

    Q_0(s, a) = r
    Q_{k+1}(s, a) = r + gamma * max_a' Q_k(s', a')   (0 after the last step)

Each Q_k is a LightGBM regressor over state features with the prompt as a categorical
feature (same design as ``RewardModel``). ``predict(X)`` -> (n, N_PROMPTS) Q-values.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from music_domain.prompts import N_PROMPTS

DEFAULT_PARAMS = {"n_estimators": 200, "learning_rate": 0.08, "num_leaves": 31, "min_child_samples": 40,
                  "subsample": 0.8, "subsample_freq": 1, "n_jobs": 2, "verbose": -1}

# Fitted Q evaluation (OPE): the first backup with FQE_PARAMS' trees, each later one continues
# boosting from the previous Q with FQE_WARM_START_TREES trees (benchmarks/ope_timing.py
# --compare-fqe measures speed and accuracy against DEFAULT_PARAMS refitted every backup). One
# thread: on a shared machine two OpenMP threads spin-wait for each other (17x slower per tree,
# measured with 4 busy jobs on 2 cores), and one thread per fit leaves the other core to the rest
FQE_PARAMS = {"n_estimators": 100, "learning_rate": 0.1, "n_jobs": 1}
FQE_WARM_START_TREES = 25


class FittedQ:
    def __init__(self, feature_names: Sequence[str], iterations: int = 6, gamma: float = 0.95,
                 success_reward: float = 1.0, turn_cost: float = 0.05, params: Optional[dict] = None,
                 seed: int = 0, warm_start_trees: Optional[int] = None):
        self.feature_names = list(feature_names)
        self.iterations = iterations
        self.gamma = gamma
        self.success_reward = success_reward
        self.turn_cost = turn_cost
        self.params = {**DEFAULT_PARAMS, **(params or {}), "random_state": seed}
        if warm_start_trees is not None and warm_start_trees < 1:
            raise ValueError(f"warm_start_trees must be a positive number of trees, got {warm_start_trees}")
        self.warm_start_trees = warm_start_trees
        self.boosters = []  # Q is the sum of their predictions (one booster unless warm-started)

    def _design(self, X, actions):
        return np.hstack([np.asarray(X, np.float32), np.asarray(actions, np.float32).reshape(-1, 1)])

    def fit(self, X: np.ndarray, actions: np.ndarray, conversation_ids: np.ndarray, turns: np.ndarray,
            success: np.ndarray) -> "FittedQ":
        """Rows are prompt decisions; a conversation's rows are ordered by ``turns``."""
        import lightgbm as lgb

        X = np.asarray(X, np.float32)
        if len(X) == 0:
            raise ValueError("no logged decisions to fit Q on")
        order = np.lexsort((turns, conversation_ids))
        X, actions = X[order], np.asarray(actions)[order]
        conv, success = np.asarray(conversation_ids)[order], np.asarray(success, bool)[order]
        last = np.r_[conv[1:] != conv[:-1], True]
        r = -self.turn_cost + np.where(last & success, self.success_reward, 0.0)
        design = self._design(X, actions)
        target = r.copy()
        next_idx = np.flatnonzero(~last) + 1
        base = np.zeros(len(design))
        self.boosters = []
        for k in range(self.iterations):
            params = dict(self.params)
            warm = bool(self.warm_start_trees) and k > 0
            if warm:
                # Q_{k+1} differs from Q_k only by what one more backup propagates: keep Q_k and
                # add a few trees fitted to the change (boosting from Q_k's predictions as init score)
                params["n_estimators"] = self.warm_start_trees
            model = lgb.LGBMRegressor(**params)
            model.fit(design, target, init_score=base if warm else None, categorical_feature=[X.shape[1]])
            self.boosters = (self.boosters if warm else []) + [model.booster_]
            if k == self.iterations - 1:
                break
            if self.warm_start_trees:
                base = base + model.booster_.predict(design, num_threads=1)
            target = r.copy()
            target[~last] += self.gamma * self._next_value(X[next_idx], order[next_idx])
        return self

    def _next_value(self, X_next: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Value of the next states ``X_next`` (``rows``: their positions in the caller's input order)."""
        return self._predict_all(X_next).max(axis=1)

    def _predict_all(self, X):
        n = len(X)
        rep = np.repeat(X, N_PROMPTS, axis=0)
        acts = np.tile(np.arange(N_PROMPTS), n)
        return self._predict_pairs(rep, acts).reshape(n, N_PROMPTS)

    def _predict_pairs(self, X, actions):
        design = self._design(X, actions)
        return sum(b.predict(design, num_threads=1) for b in self.boosters)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.boosters:
            raise RuntimeError("Q function is not fitted")
        return self._predict_all(np.asarray(X, np.float32))

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump({"feature_names": self.feature_names,
                         "boosters": [b.model_to_string() for b in self.boosters],
                         "gamma": self.gamma, "turn_cost": self.turn_cost}, f)

    @classmethod
    def load(cls, path: Path) -> "FittedQ":
        import lightgbm as lgb

        with open(path, "rb") as f:
            d = pickle.load(f)
        q = cls(d["feature_names"], gamma=d["gamma"], turn_cost=d["turn_cost"])
        strings = d["boosters"] if "boosters" in d else [d["booster"]]  # files saved before the booster chain
        q.boosters = [lgb.Booster(model_str=m) for m in strings]
        return q


class FittedQEvaluation(FittedQ):
    """Fitted Q evaluation: the Q function of the ``policy`` it is given, for sequential OPE
    (as d3rlpy's ``FQE(algo=policy)``).

    As ``FittedQ`` but the next state's value is sum_a pi(a|s') Q(s', a) under the policy's
    action probabilities, not the max. ``policy`` has ``probabilities_batch(X) -> (n, N_PROMPTS)``
    (``prompt_policies.learned``, or ``policy_learning.ope.from_logs.LoggedStatesPolicy`` for a
    policy known only on the logged states); ``fit`` asks it once for the logged states.
    Defaults value conversation success: reward 1 at an accepted end, no turn cost, gamma 1.
    """

    def __init__(self, policy, feature_names: Sequence[str], iterations: int = 8,
                 gamma: float = 1.0, success_reward: float = 1.0, turn_cost: float = 0.0,
                 params: Optional[dict] = None, seed: int = 0, warm_start_trees: Optional[int] = FQE_WARM_START_TREES):
        super().__init__(feature_names, iterations, gamma, success_reward, turn_cost,
                         {**FQE_PARAMS, **(params or {})}, seed, warm_start_trees)
        if not hasattr(policy, "probabilities_batch"):
            raise TypeError("FittedQEvaluation needs the policy it evaluates (with probabilities_batch(X))")
        self.policy = policy
        self.target_dist_ = None

    def fit(self, X: np.ndarray, actions: np.ndarray, conversation_ids: np.ndarray, turns: np.ndarray,
            success: np.ndarray) -> "FittedQEvaluation":
        dist = np.asarray(self.policy.probabilities_batch(np.asarray(X, np.float32)), float)
        if dist.shape != (len(X), N_PROMPTS):
            raise ValueError(f"the evaluated policy gave probabilities of shape {dist.shape}, "
                             f"expected {(len(X), N_PROMPTS)}")
        if not np.isfinite(dist).all() or np.abs(dist.sum(axis=1) - 1.0).max() > 1e-6:
            raise ValueError("the evaluated policy's probabilities are not distributions over the prompts")
        self.target_dist_ = dist
        return super().fit(X, actions, conversation_ids, turns, success)

    def _next_value(self, X_next: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """sum_a pi(a|s') Q(s', a), predicted only for the prompts the policy can take in s'
        (one prediction per state for a deterministic policy instead of one per prompt)."""
        dist = self.target_dist_[rows]
        i, a = np.nonzero(dist > 0)
        q = self._predict_pairs(X_next[i], a)
        return np.bincount(i, weights=dist[i, a] * q, minlength=len(rows))
