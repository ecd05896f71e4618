"""How much exploration the deployed assistant needs: OPE support against its cost.

    python benchmarks/exploration_support.py --conversations 5000 --out results/exploration

For each exploration rate epsilon it logs ``--conversations`` conversations with the
rule-based policy and epsilon-greedy exploration (``simulator.fast_path``), and reports:

- the cost: the success rate and mean turns of those logged conversations (the listeners
  live with the exploration);
- the support it gives a learned candidate: for the mixtures ``(1 - alpha) rules + alpha
  learned`` (the candidates ``make improve`` certifies), the effective number of conversations
  (ESS of the trajectory weights) and the gate's one-sided 95% HCOPE lower bound on the
  candidate's success, next to the rule-based policy's success on the same logs.

The learned policy is trained once, on other logs (the set-up's ``data/logs/simulated.parquet``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_learning.log_schema import read_logs  # noqa: E402
from policy_learning.ope import from_logs  # noqa: E402
from policy_learning.training import train_reward_model, training_subset  # noqa: E402
from prompt_policies import LearnedPromptPolicy, RuleBasedPromptPolicy  # noqa: E402
from prompt_policies.mixture import MixturePolicy  # noqa: E402
from simulator.fast_path import log_conversations  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-logs", default="data/logs/simulated.parquet")
    p.add_argument("--conversations", type=int, default=5000)
    p.add_argument("--epsilons", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2, 0.3])
    p.add_argument("--alphas", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    p.add_argument("--out", default="results/exploration")
    a = p.parse_args(argv)
    model = train_reward_model(training_subset(read_logs(a.train_logs), True), True, seed=0)
    learned = LearnedPromptPolicy(model, True)
    rows = []
    for eps in a.epsilons:
        t0 = time.time()
        logs = log_conversations(a.conversations, eps, 1.0, seed=4242, workers=2)
        conv = logs.groupby("conversation_id").first()
        row = {"epsilon": eps, "success": float(conv["success"].mean()), "mean_turns": float(conv["n_turns"].mean())}
        rules = from_logs.conversation_success(logs, True, RuleBasedPromptPolicy(), 50, 0, fit_q=False)
        row["rule_based_estimate"] = rules.get("PDWIS").value
        for alpha in a.alphas:
            mix = MixturePolicy([(1 - alpha, RuleBasedPromptPolicy()), (alpha, learned)])
            rep = from_logs.conversation_success(logs, True, mix, 50, 0, fit_q=False)
            row[f"alpha={alpha:g}"] = {"ess": float(rep.effective_episodes),
                                       "hcope_lower_bound": rep.lower_bounds["hcope"]["lower_bound"],
                                       "pdwis": rep.get("PDWIS").value, "reliable": bool(rep.reliable)}
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "exploration.json").write_text(json.dumps(rows, indent=1))
    lines = [f"{a.conversations} conversations per rate (rule-based + epsilon-greedy, listening history on).", "",
             "| epsilon | success | mean turns | " + " | ".join(
                 f"alpha={x:g}: ESS, lower bound" for x in a.alphas) + " |",
             "|---|---|---|" + "---|" * len(a.alphas)]
    for r in rows:
        cells = [f"{r[f'alpha={x:g}']['ess']:.0f}, {r[f'alpha={x:g}']['hcope_lower_bound']:.3f}" for x in a.alphas]
        lines.append(f"| {r['epsilon']:g} | {r['success']:.3f} | {r['mean_turns']:.2f} | " + " | ".join(cells) + " |")
    (out / "exploration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
