"""The rule-based policy, without exploration, on a fixed set of simulated listeners: success rate
(with a 95% half-width) and mean turns, without and with listening history. Run it at two commits
to see what a change to the dialogue engine does to the simulation, on the same listeners:

    python benchmarks/rules_on_listeners.py [--listeners 3000] [--seed 424242] [--version current]
    python benchmarks/rules_on_listeners.py --listeners 5000 --history off --seed 990001 500000 500001 12345

Several ``--seed``s are several sets of fresh listeners: the spread between them is the sampling
error any simulated truth measured on one set carries (990001 is ``benchmarks/rounds.py``'s
evaluation set).

``--version`` runs a registry version's policy instead (``current``: the one `make shell` serves),
also without exploration.

(e.g. ``git stash; python benchmarks/rules_on_listeners.py; git stash pop;
python benchmarks/rules_on_listeners.py``). The listeners, their goals and every random draw
depend only on ``--seed``, so the two runs differ only by the code.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    import numpy as np

    from embeddings.assets import load_assets
    from prompt_policies.rule_based import RuleBasedPromptPolicy
    from simulator.fast_path import simulate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listeners", type=int, default=3000)
    p.add_argument("--seed", type=int, nargs="+", default=[424242], help="one or more sets of listeners")
    p.add_argument("--history", choices=["off", "on", "both"], default="both")
    p.add_argument("--version", default=None, help="a policy-registry version (e.g. current) instead of the rules")
    a = p.parse_args(argv)
    if a.listeners < 1:
        p.error("--listeners must be at least 1")
    assets = load_assets()
    policy = RuleBasedPromptPolicy()
    if a.version:
        from policy_learning.registry import PolicyRegistry

        deployed = PolicyRegistry().load(a.version)
        policy = deployed.policy
        print(f"policy: {deployed.version}: {policy.name}")
    histories = {"off": (False,), "on": (True,), "both": (False, True)}[a.history]
    for seed in a.seed:
        for history in histories:
            t0 = time.time()
            convs = simulate(assets, policy, a.listeners, seed=seed, use_history=history)
            success = np.array([c.success for c in convs], float)
            turns = np.array([c.turns for c in convs], float)
            half = 1.96 * success.std() / np.sqrt(len(success))
            where = f"seed {seed}, " if len(a.seed) > 1 else ""
            print(f"{where}history {'on ' if history else 'off'}: success {success.mean():.4f} +- {half:.4f}, "
                  f"mean turns {turns.mean():.3f} ({len(convs)} listeners, {time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
