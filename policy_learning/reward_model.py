"""The reward model: predicted prompt usefulness for (dialogue state, prompt).

A gradient-boosted tree classifier (LightGBM) over the state features with the prompt
as a categorical feature, fitted to logged (state, prompt, usefulness) rows. The policy it
induces picks the prompt with the highest predicted usefulness.

scikit-learn style: ``RewardModel(params).fit(X, actions, rewards)``, ``predict(X)``
-> (n, N_PROMPTS) matrix of predicted rewards.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from music_domain.prompts import N_PROMPTS

DEFAULT_PARAMS = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31, "min_child_samples": 40,
                  "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.9, "reg_lambda": 1.0,
                  "n_jobs": 2, "verbose": -1}


class RewardModel:
    def __init__(self, feature_names: Sequence[str], params: Optional[dict] = None, seed: int = 0):
        self.feature_names = list(feature_names)
        self.params = {**DEFAULT_PARAMS, **(params or {}), "random_state": seed}
        self.model = None

    def _design(self, X: np.ndarray, actions: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} features, got shape {X.shape}")
        return np.hstack([X, np.asarray(actions, dtype=np.float32).reshape(-1, 1)])

    def fit(self, X: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> "RewardModel":
        import lightgbm as lgb

        rewards = np.asarray(rewards)
        if len(rewards) == 0:
            raise ValueError("no logged decisions to fit the reward model on")
        if len(np.unique(rewards)) < 2:
            raise ValueError("all logged rewards are equal; the reward model has nothing to learn")
        self.model = lgb.LGBMClassifier(**self.params)
        self.model.fit(self._design(X, actions), rewards, categorical_feature=[len(self.feature_names)],
                       feature_name=self.feature_names + ["prompt"])
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, N_PROMPTS): predicted usefulness of each prompt in each state."""
        if self.model is None:
            raise RuntimeError("reward model is not fitted")
        X = np.asarray(X, dtype=np.float32)
        n = len(X)
        rep = np.repeat(X, N_PROMPTS, axis=0)
        acts = np.tile(np.arange(N_PROMPTS), n)
        p = self.model.predict_proba(self._design(rep, acts), num_threads=1)[:, 1]
        return p.reshape(n, N_PROMPTS)

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump({"feature_names": self.feature_names, "params": self.params,
                         "booster": self.model.booster_.model_to_string() if self.model else None}, f)

    def to_text(self) -> str:
        """The fitted booster as LightGBM's text format (what a registry artefact stores: no pickle)."""
        if self.model is None:
            raise RuntimeError("reward model is not fitted")
        return self.model.booster_.model_to_string()

    @classmethod
    def from_text(cls, feature_names: Sequence[str], text: str) -> "RewardModel":
        """A fitted model from ``to_text``; raises ``ValueError`` when the text is not a LightGBM
        model over these features (and the prompt)."""
        import lightgbm as lgb

        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as e:
            raise ValueError(f"not a LightGBM model: {e}") from None
        expected = list(feature_names) + ["prompt"]
        if booster.feature_name() != expected:
            raise ValueError(f"the model's features {booster.feature_name()[:3]}... are not {expected[:3]}... "
                             f"({booster.num_feature()} vs {len(expected)} columns)")
        m = cls(feature_names)
        m.model = _BoosterClassifier(booster)
        return m

    @classmethod
    def load(cls, path: Path) -> "RewardModel":
        import lightgbm as lgb

        with open(path, "rb") as f:
            d = pickle.load(f)
        m = cls(d["feature_names"], d["params"])
        booster = lgb.Booster(model_str=d["booster"])
        m.model = _BoosterClassifier(booster)
        return m


class _BoosterClassifier:
    """A loaded booster with the ``predict_proba`` of ``LGBMClassifier``."""

    def __init__(self, booster):
        self.booster_ = booster

    def predict_proba(self, X, num_threads=1):
        p = self.booster_.predict(X, num_threads=num_threads)
        return np.column_stack([1 - p, p])
