"""Per-turn prediction latency of the learned prompt policy.

    python benchmarks/policy_latency.py --conversations 300

Trains the reward model on the logged conversations (``--logs``), runs simulated
conversations with it (fast path, history on) and times, at every system turn, what
``PromptSelectionPolicy`` does per turn after replaying the tracker: refreshing the
candidate tracks (history-aware retrieval, ``refresh``), and building the features and
scoring the 8 prompts with the reward model (``choose``). One thread, as in a Rasa worker.
Prints p50/p95/p99 in milliseconds. Target: p95 <= 5 ms for the whole turn.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


class Timed:
    """Wraps a prompt policy and the engine's candidate refresh, recording their time per turn."""

    def __init__(self, policy, engine_cls):
        self.policy, self.choose_ms, self.refresh_ms = policy, [], []
        self.name, self.version, self.uses_history = policy.name, policy.version, policy.uses_history
        original = engine_cls.refresh_candidates
        timed = self

        def refresh(engine, state):
            t0 = time.perf_counter()
            out = original(engine, state)
            timed.refresh_ms.append(1000 * (time.perf_counter() - t0))
            return out

        engine_cls.refresh_candidates = refresh

    def choose(self, state, rng=None):
        t0 = time.perf_counter()
        d = self.policy.choose(state, rng)
        self.choose_ms.append(1000 * (time.perf_counter() - t0))
        return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", default=str(ROOT / "data/logs/simulated.parquet"))
    ap.add_argument("--conversations", type=int, default=300)
    a = ap.parse_args(argv)
    from prompt_policies.learned import LearnedPromptPolicy
    from policy_learning.training import train_reward_model
    from embeddings.assets import load_assets
    from music_domain.dialogue_engine import MusicDialogueEngine
    from simulator.fast_path import simulate

    assets = load_assets()
    model = train_reward_model(a.logs, with_history=True)
    timed = Timed(LearnedPromptPolicy(model, with_history=True), MusicDialogueEngine)
    simulate(assets, timed, a.conversations, seed=31337, use_history=True, prefix="latency")
    choose, refresh = np.array(timed.choose_ms), np.array(timed.refresh_ms)
    total = choose + refresh[:len(choose)]
    print(f"{len(choose)} system turns in {a.conversations} conversations")
    for label, x in (("choose (features + reward model)", choose), ("refresh (history-aware retrieval)", refresh),
                     ("per turn", total)):
        p50, p95, p99 = np.percentile(x, [50, 95, 99])
        print(f"{label:36s} p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()
