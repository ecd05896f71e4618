"""How well ``improve`` predicts each mixture's improvement when it chooses alpha, against the
simulated truth.

    python benchmarks/alpha_selection.py [--logs data/logs/simulated.parquet] [--listeners 3000]

Runs ``policy_learning.improve``'s own steps on the logs (the same split, reward model and
candidates ``(1 - alpha) * current + alpha * learned`` around the registry's ``v0``, the
rule-based policy), and prints for each alpha, on the ``select`` conversations:

- the paired improvement over the current policy by per-decision importance sampling (PDIS) and
  by sequential doubly robust (SeqDR), each with its one-sided 95% lower bound and the bound
  ``improve`` predicts for ``certify`` (the width doubled and scaled to its size);
- the ESS and whether the diagnostics call the estimate reliable;
- the true improvement: both policies without exploration on the same ``--listeners`` fresh
  simulated listeners (seeds disjoint from the logs'), with a 95% CI, and the true mean turns.

Writes ``results/alpha_selection/alpha_selection.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EVAL_SEED = 990_001  # as benchmarks/rounds.py


def main(argv=None) -> int:
    from embeddings.assets import load_assets
    from policy_learning import improve as imp
    from policy_learning.gate import paired_improvement_bound
    from policy_learning.log_schema import read_logs
    from policy_learning.registry import PolicyRegistry
    from simulator.fast_path import simulate

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--listeners", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/alpha_selection")
    a = p.parse_args(argv)
    t_start = time.time()
    logs = read_logs(a.logs)
    with tempfile.TemporaryDirectory() as tmp:
        registry = PolicyRegistry(Path(tmp) / "registry")
        registry.init()
        current = registry.load("current")
    with_history = imp._with_history(logs)
    _, _, learned, select, certify = imp.learn_on_split(logs, with_history, a.seed)
    assets = load_assets()

    def truth(policy):
        convs = simulate(assets, policy, a.listeners, seed=EVAL_SEED, use_history=with_history, prefix="eval")
        return np.array([c.success for c in convs], float), np.array([c.turns for c in convs], float)

    cur_rep = imp._evaluate(select, current.policy, 20, a.seed, fit_q=True)
    cur_success, cur_turns = truth(current.policy)
    print(f"logs {a.logs}: {logs['conversation_id'].nunique()} conversations, history {with_history}; select "
          f"{select['conversation_id'].nunique()}, certify {certify['conversation_id'].nunique()}; current "
          f"{current.version} true success {cur_success.mean():.3f}, turns {cur_turns.mean():.2f}", flush=True)
    rows = []
    for alpha in imp.DEFAULT_ALPHAS:
        policy = imp.candidate(current, learned, alpha)
        rep = imp._evaluate(select, policy, 20, a.seed, fit_q=True)
        row = {"alpha": alpha, "ess": float(rep.effective_episodes), "n": int(rep.n_episodes),
               "reliable": bool(rep.reliable)}
        for est in ("PDIS", "SeqDR"):
            pb = paired_improvement_bound(rep, cur_rep, estimator=est)
            row[est] = {"difference": pb["difference"], "lower_bound": pb["lower_bound"],
                        "predicted_certificate": imp.predicted_certificate(pb, select, certify)}
        s, t = truth(policy)
        d = s - cur_success  # the same listeners (seeds): paired
        row["true_difference"] = {"value": float(d.mean()), "ci_half_width": float(1.96 * d.std(ddof=1) / np.sqrt(len(d)))}
        row["true_success"], row["true_turns"] = float(s.mean()), float(t.mean())
        rows.append(row)
        print(f"alpha {alpha:g}: ESS {row['ess']:.0f} of {row['n']} (reliable {row['reliable']}) | PDIS "
              f"{row['PDIS']['difference']:+.3f} (predicted bound {row['PDIS']['predicted_certificate']:+.3f}) | SeqDR "
              f"{row['SeqDR']['difference']:+.3f} (predicted bound {row['SeqDR']['predicted_certificate']:+.3f}) | truth "
              f"{row['true_difference']['value']:+.3f} +- {row['true_difference']['ci_half_width']:.3f}, turns "
              f"{row['true_turns']:.2f}", flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "alpha_selection.json").write_text(json.dumps(
        {"logs": a.logs, "listeners": a.listeners, "current_true_success": float(cur_success.mean()),
         "current_true_turns": float(cur_turns.mean()), "alphas": rows,
         "seconds": round(time.time() - t_start, 1)}, indent=1))
    print(f"done in {time.time() - t_start:.0f}s -> {out / 'alpha_selection.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
