"""How long the learners take to train, and how much the bandit depends on which logs it saw.

    python benchmarks/learner_stability.py --subsets 3 --conversations 3000

Prints the training time of the reward model (bandit) and of fitted Q iteration on all
logged conversations, then trains the bandit on ``--subsets`` different 70% subsets of the
logs (whole conversations) and prints each one's simulated success rate and mean turns on
the same fresh listeners as the reference experiment (without history).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_learning.fitted_q import FittedQ  # noqa: E402
from prompt_policies.learned import LearnedPromptPolicy  # noqa: E402
from policy_learning.reward_model import RewardModel  # noqa: E402
from policy_learning.log_schema import read_logs  # noqa: E402
from policy_learning.training import design, split_by_conversation, train_reward_model, training_subset  # noqa: E402
from embeddings.assets import load_assets  # noqa: E402
from music_domain.dialogue_state import feature_names  # noqa: E402
from simulator.fast_path import simulate  # noqa: E402

# the reference experiment's listeners (this script's folder is on sys.path when it runs)
from reference_experiment import EXPERIMENT_SEED  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--subsets", type=int, default=3)
    p.add_argument("--conversations", type=int, default=3000)
    a = p.parse_args(argv)
    logs = read_logs(a.logs)
    X, actions, rewards = design(logs, with_history=True)
    n_conv = logs["conversation_id"].nunique()
    t0 = time.time()
    RewardModel(feature_names(True)).fit(X, actions, rewards)
    bandit_s = time.time() - t0
    t0 = time.time()
    FittedQ(feature_names(True)).fit(X, actions, logs["conversation_id"].to_numpy(), logs["turn"].to_numpy(),
                                     logs["success"].to_numpy())
    print(f"training on all {n_conv} logged conversations ({len(X)} decisions): bandit {bandit_s:.1f} s, "
          f"fitted Q iteration {time.time() - t0:.1f} s")
    assets = load_assets()
    sub = training_subset(logs, with_history=False)
    success = []
    for seed in range(a.subsets):
        train, _ = split_by_conversation(sub, 0.3, seed=seed)
        policy = LearnedPromptPolicy(train_reward_model(train, with_history=False, seed=seed), with_history=False)
        convs = simulate(assets, policy, a.conversations, seed=EXPERIMENT_SEED, use_history=False, prefix="stab")
        success.append(np.mean([c.success for c in convs]))
        print(f"bandit trained on 70% subset {seed} ({train['conversation_id'].nunique()} conversations): "
              f"success {success[-1]:.3f}, mean turns {np.mean([c.turns for c in convs]):.2f} "
              f"({a.conversations} listeners)", flush=True)
    print(f"success over {a.subsets} subsets: {min(success):.3f}-{max(success):.3f} (sd {np.std(success):.3f})")


if __name__ == "__main__":
    main()
