"""The reference experiment in simulation: rule-based vs learned vs learned + history.

    python benchmarks/reference_experiment.py --conversations 5000 --out results/experiment

Trains the learned arms on 70% of the logged conversations (``data/logs/simulated.parquet``,
split by conversation as the deployment gate splits them; ``--held-out``), then runs each arm
on the same fresh simulated listeners (seeds disjoint from the logs), and reports success
rate and mean turns with 95% CIs, relative changes against the rule-based arm, how often
each prompt was chosen, and, for the learned arms, OPE from the held-out logs next to the
simulated truth: the sequential doubly robust estimate of conversation success next to the
simulated success rate, and the per-decision DR estimate of prompt usefulness next to the
simulated on-policy usefulness.
Also runs the sequential learner (fitted Q iteration) for comparison.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from policy_learning.fitted_q import FittedQ
from prompt_policies.learned import FittedQPolicy, LearnedPromptPolicy
from policy_learning.ope import from_logs as ope_from_logs
from prompt_policies import RuleBasedPromptPolicy
from policy_learning.log_schema import read_logs
from policy_learning.training import design, split_by_conversation, train_reward_model, training_subset
from embeddings.assets import load_assets
from music_domain.dialogue_state import feature_names
from music_domain.prompts import PROMPT_NAMES
from simulator.fast_path import conversations_to_frame, simulate

EXPERIMENT_SEED = 777  # logs use seeds 100..101; listeners here never appeared in training


def mean_ci(x):
    x = np.asarray(x, float)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--conversations", type=int, default=5000)
    p.add_argument("--out", default="results/experiment")
    p.add_argument("--held-out", type=float, default=0.3,
                   help="share of logged conversations kept out of training for OPE (0: train and evaluate on all)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    assets = load_assets()
    logs = read_logs(a.logs)
    if a.held_out > 0:  # as the deployment gate: a policy is never evaluated on the logs it was fitted to
        logs, ope_logs = split_by_conversation(logs, a.held_out, seed=0)
    else:
        ope_logs = logs
    arms = {"rule_based": (RuleBasedPromptPolicy(), False)}
    timings = {}
    for hist in (False, True):
        sub = training_subset(logs, hist)
        t0 = time.time()
        rm = train_reward_model(sub, hist)
        timings[f"train_bandit{'_history' if hist else ''}_s"] = time.time() - t0
        arms["learned_history" if hist else "learned"] = (LearnedPromptPolicy(rm, hist), hist)
        X, acts, rewards = design(sub, hist)
        t0 = time.time()
        q = FittedQ(feature_names(hist)).fit(X, acts, sub["conversation_id"].to_numpy(), sub["turn"].to_numpy(),
                                            sub["success"].to_numpy())
        timings[f"train_fqi{'_history' if hist else ''}_s"] = time.time() - t0
        arms["fqi_history" if hist else "fqi"] = (FittedQPolicy(q, hist), hist)
    results = {}
    for name, (policy, hist) in arms.items():
        t0 = time.time()
        convs = simulate(assets, policy, a.conversations, seed=EXPERIMENT_SEED, use_history=hist, prefix=name)
        elapsed = time.time() - t0
        succ = mean_ci([c.success for c in convs])
        turns = mean_ci([c.turns for c in convs])
        frame = conversations_to_frame(assets, convs)
        counts = Counter(frame["prompt"])
        results[name] = {"success": succ, "turns": turns, "p90_turns": float(np.percentile([c.turns for c in convs], 90)),
                         "abandonment": float(np.mean([c.outcome == "abandoned" for c in convs])),
                         "prompt_share": {k: counts.get(k, 0) / len(frame) for k in PROMPT_NAMES},
                         "prompt_usefulness": {k: float(frame.loc[frame.prompt == k, "reward"].mean())
                                               if counts.get(k) else None for k in PROMPT_NAMES},
                         "on_policy_usefulness": float(frame["reward"].mean()),
                         "ms_per_conversation": 1000 * elapsed / a.conversations}
        if name.startswith("learned"):
            sub = training_subset(ope_logs, hist)
            pd_rep = ope_from_logs.per_decision(sub, hist, policy, n_bootstrap=200)
            seq = ope_from_logs.conversation_success(sub, hist, policy, n_bootstrap=200)
            truth = results[name]["on_policy_usefulness"]
            dr = pd_rep.get("DR")
            results[name]["ope_dr"] = dr.as_dict()
            results[name]["ope_relative_error"] = abs(dr.value - truth) / truth
            results[name]["ope_ci_covers"] = dr.ci_low <= truth <= dr.ci_high
            sdr = seq.get("SeqDR")
            truth = results[name]["success"][0]
            results[name]["ope_success"] = seq.as_dict()
            results[name]["ope_success_relative_error"] = abs(sdr.value - truth) / truth
            results[name]["ope_success_ci_covers"] = sdr.ci_low <= truth <= sdr.ci_high
    base = results["rule_based"]
    for name, r in results.items():
        r["success_rel"] = r["success"][0] / base["success"][0] - 1
        r["turns_rel"] = r["turns"][0] / base["turns"][0] - 1
    lh, l = results["learned_history"], results["learned"]
    further = {"success_rel": lh["success"][0] / l["success"][0] - 1, "turns_rel": lh["turns"][0] / l["turns"][0] - 1}
    summary = {"results": results, "history_over_learned": further, "timings": timings,
               "conversations": a.conversations, "training_conversations": int(logs["conversation_id"].nunique()),
               "ope_conversations": int(ope_logs["conversation_id"].nunique())}
    (out / "experiment.json").write_text(json.dumps(summary, indent=1))
    lines = ["| arm | success (95% CI) | mean turns (95% CI) | p90 turns | abandon | success vs rule | turns vs rule |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        s, t = r["success"], r["turns"]
        lines.append(f"| {name} | {s[0]:.3f} [{s[1]:.3f}, {s[2]:.3f}] | {t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}] | "
                     f"{r['p90_turns']:.0f} | {r['abandonment']:.3f} | {r['success_rel']:+.1%} | {r['turns_rel']:+.1%} |")
    lines += ["", f"learned + history vs learned: success {further['success_rel']:+.1%}, turns {further['turns_rel']:+.1%}", "",
              "| arm | most chosen prompts |", "|---|---|"]
    for name, r in results.items():
        top = sorted(r["prompt_share"].items(), key=lambda kv: -kv[1])[:3]
        lines.append(f"| {name} | " + ", ".join(f"{k} {v:.0%}" for k, v in top) + " |")
    lines += ["", "Conversation success rate: sequential doubly robust OPE from the logs vs simulated on-policy",
              "", "| learned arm | SeqDR success (95% CI) | simulated success | rel. error | CI covers | "
              "effective logged conversations |", "|---|---|---|---|---|---|"]
    for name in ("learned", "learned_history"):
        r = results[name]
        d = next(e for e in r["ope_success"]["estimates"] if e["estimator"] == "SeqDR")
        lines.append(f"| {name} | {d['value']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}] | {r['success'][0]:.3f} | "
                     f"{r['ope_success_relative_error']:.1%} | {r['ope_success_ci_covers']} | "
                     f"{r['ope_success']['effective_episodes']:.0f} of {r['ope_success']['n_episodes']} |")
    lines += ["", "Mean prompt usefulness: per-decision DR from the logs (on the logging policy's states) vs "
              "simulated on-policy", "", "| learned arm | DR estimate (95% CI) | simulated on-policy usefulness | "
              "rel. error | CI covers |", "|---|---|---|---|---|"]
    for name in ("learned", "learned_history"):
        r = results[name]
        d = r["ope_dr"]
        lines.append(f"| {name} | {d['value']:.3f} [{d['ci_low']:.3f}, {d['ci_high']:.3f}] | "
                     f"{r['on_policy_usefulness']:.3f} | {r['ope_relative_error']:.1%} | {r['ope_ci_covers']} |")
    (out / "experiment.md").write_text("\n".join(lines) + "\n")
    _plot(results, out / "experiment.png")
    print("\n".join(lines))
    print("training times (s):", {k: round(v, 1) for k, v in timings.items()})


def _plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in ((axes[0], "success", "success rate"), (axes[1], "turns", "mean turns")):
        vals = [results[n][key] for n in names]
        ax.bar(names, [v[0] for v in vals], yerr=[[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]],
               capsize=3, color=["C7", "C0", "C1", "C2", "C3"][:len(names)])
        ax.set_title(label)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
