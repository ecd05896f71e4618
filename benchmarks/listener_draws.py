"""How much a simulated truth moves with the draw of listeners: the rule-based policy (no
exploration, no history) on several sets of fresh listeners, the rounds' evaluation set
(``benchmarks/rounds.py``'s ``EVAL_SEED``) first.

    python benchmarks/listener_draws.py --listeners 5000 --seeds 990001 500000 500001 12345

Prints each set's success with its 95% half-width and mean turns. The spread between sets is
the sampling error any truth measured on one set carries.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    from embeddings.assets import load_assets
    from prompt_policies import RuleBasedPromptPolicy
    from simulator.fast_path import simulate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listeners", type=int, default=5000)
    p.add_argument("--seeds", type=int, nargs="+", default=[990001, 500000, 500001, 12345])
    a = p.parse_args(argv)
    if a.listeners < 1:
        p.error("--listeners must be at least 1")
    assets = load_assets()
    for seed in a.seeds:
        t0 = time.time()
        convs = simulate(assets, RuleBasedPromptPolicy(), a.listeners, seed=seed, use_history=False, prefix="draw")
        s = np.array([c.success for c in convs], float)
        t = np.array([c.turns for c in convs], float)
        print(f"seed {seed}: success {s.mean():.4f} +- {1.96 * s.std(ddof=1) / np.sqrt(len(s)):.4f}, "
              f"mean turns {t.mean():.3f} ({len(s)} listeners, {time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
