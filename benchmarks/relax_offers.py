"""How often simulated conversations reach the engine's "nothing matches" and "everything that
matches was played" paths, per policy: the second path's wording and pending offer changed in the
18th session, and this shows whether the simulation (and so `results/rounds`) can be affected.

    python benchmarks/relax_offers.py [--listeners 2000] [--versions v6] [--registry results/rounds/registry]

Counts, over ``--listeners`` fresh simulated listeners with history (the seed ``make rounds``
evaluates on): samples that found nothing matching and offered to drop a constraint
(``relax``), and samples that found every matching track already played (``exhausted``, with or
without a constraint to offer). The rule-based policy and each registry version given.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVAL_SEED = 990_001  # as benchmarks/rounds.py


def main(argv=None) -> int:
    from embeddings.assets import load_assets
    from music_domain import dialogue_engine
    from policy_learning.registry import PolicyRegistry
    from prompt_policies.rule_based import RuleBasedPromptPolicy
    from simulator.fast_path import simulate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listeners", type=int, default=2000)
    p.add_argument("--versions", nargs="*", default=["v6"])
    p.add_argument("--registry", default=str(ROOT / "results" / "rounds" / "registry"))
    a = p.parse_args(argv)
    counts = {}
    executor = dialogue_engine.MusicDialogueEngine._sample

    def counting(self, state, prompt):  # the engine's own executor, counted
        shown = executor(self, state, prompt)
        key = ("exhausted" if shown.exhausted else "relax") if shown.relax is not None or shown.exhausted else None
        if key:
            counts[key] = counts.get(key, 0) + 1
            counts.setdefault("conversations", set()).add(id(state))
        return shown

    dialogue_engine.MusicDialogueEngine._sample = counting
    assets = load_assets()
    registry = PolicyRegistry(Path(a.registry))
    policies = [("rule_based", RuleBasedPromptPolicy())] + [(v, registry.load(v).policy) for v in a.versions]
    for name, policy in policies:
        counts.clear()
        simulate(assets, policy, a.listeners, seed=EVAL_SEED, use_history=True, prefix="eval")
        print(f"{name}: {a.listeners} conversations; nothing-matches offers {counts.get('relax', 0)}, "
              f"every-match-played {counts.get('exhausted', 0)}, in {len(counts.get('conversations', ()))} "
              f"conversations", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
