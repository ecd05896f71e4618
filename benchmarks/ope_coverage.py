"""Coverage study of off-policy evaluation across listener populations.

    python benchmarks/ope_coverage.py --seeds 20 --conversations 30000 --truth-listeners 3000

For each listener population (``simulator.populations``; ``--populations``) and seed:

1. log ``--conversations`` conversations with the rule-based policy and epsilon = 0.3
   exploration (history on for half, as ``make logs``), listeners of that population;
2. for each learned arm (``learned``, ``learned_history``): train it on 70% of the arm's
   conversations, as the gate does, and evaluate it off-policy on the other 30%
   (``policy_learning.ope.from_logs.conversation_success``: cross-fitted FQE, bootstrap
   intervals, the gate's bounds), together with the current policy (rule-based, no
   exploration);
3. the simulated truth: the arm and the rule-based policy each run on the same
   ``--truth-listeners`` fresh listeners of that population (seeds disjoint from the logs).

Reported per population and arm, over seeds: the median relative error |estimate - truth| /
truth of each sequential estimator, its 95% CI's coverage of the truth, the gate's promotion
and false-promotion rates for each lower bound (false: the bound says "better than the
current policy" and the truth is not), the candidate's effective number of conversations,
and the share of runs the overlap diagnostics call reliable. Writes ``coverage.json``,
``coverage.md`` and ``coverage.png`` to ``--out``. Seeds are fixed: the same command gives
the same table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from policy_learning.gate import decide
from policy_learning.ope import from_logs
from policy_learning.training import split_by_conversation, train_reward_model, training_subset
from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy
from prompt_policies.learned import LearnedPromptPolicy
from simulator.fast_path import conversations_to_frame, simulate
from simulator.populations import POPULATIONS

ESTIMATORS = ("SeqDR", "SeqWDR", "PDIS", "PDWIS")
BOUNDS = ("hcope", "bootstrap")
TRUTH_SEED = 900_000  # truth listeners' seeds: far from the logs' (seed * 100 + 1)


def run_one(assets, pop, seed: int, n_conv: int, n_truth: int, n_bootstrap: int):
    logging = ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=0.3)
    convs = simulate(assets, logging, n_conv, seed=seed * 100 + 1, history_share=0.5, prefix=f"log-{pop.name}",
                     population=pop)
    logs = conversations_to_frame(assets, convs)
    out = {}
    for arm, hist in (("learned", False), ("learned_history", True)):
        sub = training_subset(logs, hist)
        train, test = split_by_conversation(sub, seed=seed)
        policy = LearnedPromptPolicy(train_reward_model(train, hist, seed=seed), hist)
        current = from_logs.LoggedStatesPolicy(from_logs.greedy_logging_dist(test))
        t0 = time.time()
        cand = from_logs.conversation_success(test, hist, policy, n_bootstrap=n_bootstrap, seed=seed)
        ope_s = time.time() - t0
        cur = from_logs.conversation_success(test, hist, current, n_bootstrap=n_bootstrap, seed=seed)
        truth_seed = TRUTH_SEED + 1000 * seed + (1 if hist else 0)
        truth = np.mean([c.success for c in simulate(assets, policy, n_truth, seed=truth_seed, use_history=hist,
                                                     prefix=arm, population=pop)])
        truth_cur = np.mean([c.success for c in simulate(assets, RuleBasedPromptPolicy(), n_truth, seed=truth_seed,
                                                         use_history=hist, prefix="rule", population=pop)])
        est = {e.estimator: e.as_dict() for e in cand.estimates}
        gate = {}
        for b in BOUNDS:
            promote, _, lb = decide(cand, cur, b)
            gate[b] = {"bound": None if lb is None else lb["lower_bound"], "promoted": promote,
                       "bound_says_better": bool(lb is not None and lb["lower_bound"] > cur.get("SeqDR").value)}
        out[arm] = {"truth": float(truth), "truth_current": float(truth_cur), "estimates": est,
                    "current_estimate": cur.get("SeqDR").value, "ess": cand.effective_episodes,
                    "n_test": cand.n_episodes, "reliable": cand.reliable, "gate": gate, "ope_seconds": ope_s}
    return out


def summarise(runs):
    rows = []
    for pop, by_seed in runs.items():
        for arm in ("learned", "learned_history"):
            rs = [r[arm] for r in by_seed.values()]
            row = {"population": pop, "arm": arm, "seeds": len(rs),
                   "truth": float(np.mean([r["truth"] for r in rs])),
                   "truth_current": float(np.mean([r["truth_current"] for r in rs])),
                   "ess": float(np.median([r["ess"] for r in rs])),
                   "n_test": float(np.median([r["n_test"] for r in rs])),
                   "reliable": float(np.mean([r["reliable"] for r in rs]))}
            for e in ESTIMATORS:
                have = [r for r in rs if e in r["estimates"]]
                if not have:
                    continue
                row[f"{e}_rel_error"] = float(np.median([abs(r["estimates"][e]["value"] - r["truth"]) / r["truth"]
                                                         for r in have]))
                row[f"{e}_coverage"] = float(np.mean([r["estimates"][e]["ci_low"] <= r["truth"] <= r["estimates"][e]["ci_high"]
                                                      for r in have]))
                row[f"{e}_width"] = float(np.median([r["estimates"][e]["ci_high"] - r["estimates"][e]["ci_low"]
                                                     for r in have]))
            for b in BOUNDS:
                worse = [r for r in rs if r["truth"] <= r["truth_current"]]
                row[f"{b}_promotion"] = float(np.mean([r["gate"][b]["promoted"] for r in rs]))
                # false promotion: the bound says "better than the current policy" and the truth is not (all runs)
                row[f"{b}_false_promotion"] = float(np.mean([r["gate"][b]["bound_says_better"] and
                                                             r["truth"] <= r["truth_current"] for r in rs]))
                row[f"{b}_false_given_worse"] = (float(np.mean([r["gate"][b]["bound_says_better"] for r in worse]))
                                                 if worse else None)
                row["runs_truly_worse"] = len(worse)
            rows.append(row)
    return rows


def markdown(rows, meta):
    lines = [f"Scale: {meta['seeds']} seeds x {meta['conversations']} logged conversations (epsilon 0.3; 30% held out "
             f"per arm), truth from {meta['truth_listeners']} fresh listeners per arm and seed, {meta['bootstrap']} "
             f"bootstrap resamples. Machine: {meta['machine']}. {meta['date']}, {meta['wall_minutes']:.1f} min.", "",
             "| population | arm | truth (rule) | SeqDR med. rel. err | SeqDR 95% CI coverage | SeqDR CI width | "
             "SeqWDR rel. err / cov. | PDIS rel. err / cov. | HCOPE bound: promoted / false | bootstrap bound: "
             "promoted / false | ESS (of held-out) | reliable |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def pair(e):
            return f"{r[e + '_rel_error']:.1%} / {r[e + '_coverage']:.0%}" if e + "_rel_error" in r else "-"
        lines.append(
            f"| {r['population']} | {r['arm']} | {r['truth']:.3f} ({r['truth_current']:.3f}) | "
            f"{r.get('SeqDR_rel_error', float('nan')):.1%} | {r.get('SeqDR_coverage', float('nan')):.0%} | "
            f"{r.get('SeqDR_width', float('nan')):.3f} | {pair('SeqWDR')} | {pair('PDIS')} | "
            f"{r['hcope_promotion']:.0%} / {r['hcope_false_promotion']:.0%} | "
            f"{r['bootstrap_promotion']:.0%} / {r['bootstrap_false_promotion']:.0%} | "
            f"{r['ess']:.0f} ({r['n_test']:.0f}) | {r['reliable']:.0%} |")
    return "\n".join(lines) + "\n"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['population']}\n{r['arm']}" for r in rows]
    x = np.arange(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    axes[0].bar(x, [r.get("SeqDR_rel_error", np.nan) for r in rows], color="C0")
    axes[0].axhline(0.10, color="k", ls="--", lw=1)
    axes[0].set_title("SeqDR median relative error (target <= 10%)")
    axes[1].bar(x, [r.get("SeqDR_coverage", np.nan) for r in rows], color="C1")
    axes[1].axhline(0.90, color="k", ls="--", lw=1)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("SeqDR 95% CI coverage (target >= 90%)")
    w = 0.4
    axes[2].bar(x - w / 2, [r["hcope_false_promotion"] for r in rows], w, label="HCOPE bound", color="C2")
    axes[2].bar(x + w / 2, [r["bootstrap_false_promotion"] for r in rows], w, label="bootstrap bound", color="C3")
    axes[2].axhline(0.05, color="k", ls="--", lw=1)
    axes[2].set_title("gate false-promotion rate (target <= 5%)")
    axes[2].legend(fontsize=8)
    for ax in axes:
        ax.set_xticks(x, labels, rotation=60, fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    from embeddings.assets import load_assets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--conversations", type=int, default=30000, help="logged conversations per population and seed")
    p.add_argument("--truth-listeners", type=int, default=3000, help="fresh listeners per arm and seed for the truth")
    p.add_argument("--bootstrap", type=int, default=300)
    p.add_argument("--populations", default=",".join(POPULATIONS), help="comma-separated names (simulator.populations)")
    p.add_argument("--out", default="results/ope_coverage")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    assets = load_assets()
    pops = [POPULATIONS[n] for n in a.populations.split(",")]
    t0 = time.time()
    runs = {}
    for seed in range(a.seeds):  # seed-major: an interrupted run still covers every population
        for pop in pops:
            ts = time.time()
            runs.setdefault(pop.name, {})[seed] = run_one(assets, pop, seed, a.conversations, a.truth_listeners,
                                                          a.bootstrap)
            r = runs[pop.name][seed]
            print(f"[{time.time() - t0:6.0f}s] {pop.name} seed {seed}: " + "; ".join(
                f"{arm} SeqDR {v['estimates']['SeqDR']['value']:.3f} [{v['estimates']['SeqDR']['ci_low']:.3f}, "
                f"{v['estimates']['SeqDR']['ci_high']:.3f}] truth {v['truth']:.3f} (rule {v['truth_current']:.3f}) "
                f"hcope {v['gate']['hcope']['bound']:.3f} ESS {v['ess']:.0f}" for arm, v in r.items())
                + f" ({time.time() - ts:.0f}s)", flush=True)
            rows = summarise(runs)
            meta = {"seeds": min(len(v) for v in runs.values()), "conversations": a.conversations,
                    "truth_listeners": a.truth_listeners, "bootstrap": a.bootstrap,
                    "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, shared",
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "wall_minutes": (time.time() - t0) / 60,
                    "command": "python benchmarks/ope_coverage.py " + " ".join(argv or os.sys.argv[1:])}
            (out / "coverage.json").write_text(json.dumps({"meta": meta, "summary": rows, "runs": runs}, indent=1))
            (out / "coverage.md").write_text(markdown(rows, meta))
            plot(rows, out / "coverage.png")
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
