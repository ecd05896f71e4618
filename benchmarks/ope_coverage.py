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
3. the simulated truth: the arm runs on ``--truth-listeners`` fresh listeners of that
   population (seeds disjoint from the logs); the current policy (rule-based, no exploration:
   the same policy for every seed) once per population and arm on twice as many.

``--population-json`` adds populations defined outside ``simulator.populations`` (a JSON
object or list of them, or a file holding one; ``simulator.populations.from_dict``), e.g. an
unseen population to check on. ``--workers`` runs (population, seed) pairs in parallel.

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
import multiprocessing
import os
import platform
import sys
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
from simulator.populations import POPULATIONS, from_dict, population

ESTIMATORS = ("SeqDR", "SeqWDR", "PDIS", "PDWIS")
BOUNDS = ("hcope", "bootstrap")
# the candidate is evaluated both ways on the same logs: one cross-fitting split, and repeated
# cross-fitting (intervals pooling the splits' bootstraps: from_logs.conversation_success)
VARIANTS = {"1 split": 1, "3 splits": 3}
TRUTH_SEED = 900_000  # truth listeners' seeds: far from the logs' (seed * 100 + 1)


def rule_truth(assets, pop, n_truth: int):
    """The current policy's success rate per arm (history off / on) on fresh listeners."""
    return {hist: float(np.mean([c.success for c in simulate(assets, RuleBasedPromptPolicy(), n_truth,
                                                             seed=TRUTH_SEED - 1 - hist, use_history=hist,
                                                             prefix="rule", population=pop)]))
            for hist in (False, True)}


def run_one(assets, pop, seed: int, n_conv: int, n_truth: int, n_bootstrap: int, truth_current=None):
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
        cur = from_logs.conversation_success(test, hist, current, n_bootstrap=n_bootstrap, seed=seed)
        truth_seed = TRUTH_SEED + 1000 * seed + (1 if hist else 0)
        truth = np.mean([c.success for c in simulate(assets, policy, n_truth, seed=truth_seed, use_history=hist,
                                                     prefix=arm, population=pop)])
        variants = {}
        for variant, n_splits in VARIANTS.items():
            t0 = time.time()
            cand = from_logs.conversation_success(test, hist, policy, n_bootstrap=n_bootstrap, seed=seed,
                                                  n_splits=n_splits)
            gate = {}
            for b in BOUNDS:
                promote, _, lb = decide(cand, cur, b)
                gate[b] = {"bound": None if lb is None else lb["lower_bound"], "promoted": promote,
                           "bound_says_better": bool(lb is not None and lb["lower_bound"] > cur.get("SeqDR").value)}
            variants[variant] = {"estimates": {e.estimator: e.as_dict() for e in cand.estimates}, "gate": gate,
                                 "bootstrap_intervals": cand.bootstrap_intervals,
                                 "guaranteed_interval": cand.guaranteed_interval, "ope_seconds": time.time() - t0}
        out[arm] = {"truth": float(truth), "truth_current": float(truth_current[hist]), "variants": variants,
                    "current_estimate": cur.get("SeqDR").value, "ess": cand.effective_episodes,
                    "n_test": cand.n_episodes, "reliable": cand.reliable}
    return out


def summarise(runs):
    """One row per population and arm; per variant (``VARIANTS``) and estimator the median
    relative error, CI coverage and median width, per variant and bound the gate's rates."""
    rows = []
    for pop, by_seed in runs.items():
        for arm in ("learned", "learned_history"):
            rs = [r[arm] for r in by_seed.values()]
            worse = [r for r in rs if r["truth"] <= r["truth_current"]]
            row = {"population": pop, "arm": arm, "seeds": len(rs),
                   "truth": float(np.mean([r["truth"] for r in rs])),
                   "truth_current": float(np.mean([r["truth_current"] for r in rs])),
                   "ess": float(np.median([r["ess"] for r in rs])),
                   "n_test": float(np.median([r["n_test"] for r in rs])),
                   "reliable": float(np.mean([r["reliable"] for r in rs])), "runs_truly_worse": len(worse)}
            for v in VARIANTS:
                for e in ESTIMATORS:
                    have = [(r["variants"][v]["estimates"][e], r["truth"]) for r in rs
                            if e in r["variants"][v]["estimates"]]
                    if not have:
                        continue
                    row[f"{v}.{e}_rel_error"] = float(np.median([abs(x["value"] - t) / t for x, t in have]))
                    row[f"{v}.{e}_coverage"] = float(np.mean([x["ci_low"] <= t <= x["ci_high"] for x, t in have]))
                    row[f"{v}.{e}_width"] = float(np.median([x["ci_high"] - x["ci_low"] for x, t in have]))
                    boot = [(r["variants"][v]["bootstrap_intervals"][e], r["truth"]) for r in rs
                            if e in r["variants"][v].get("bootstrap_intervals", {})]
                    if boot:  # the bootstrap interval before any widening at low overlap
                        row[f"{v}.{e}_boot_coverage"] = float(np.mean([lo <= t <= hi for (lo, hi), t in boot]))
                        row[f"{v}.{e}_boot_width"] = float(np.median([hi - lo for (lo, hi), t in boot]))
                for b in BOUNDS:
                    gates = [r["variants"][v]["gate"][b] for r in rs]
                    row[f"{v}.{b}_promotion"] = float(np.mean([g["promoted"] for g in gates]))
                    # false promotion: the bound says "better than the current policy" and the truth is not
                    row[f"{v}.{b}_false_promotion"] = float(np.mean([
                        g["bound_says_better"] and r["truth"] <= r["truth_current"] for g, r in zip(gates, rs)]))
                    row[f"{v}.{b}_false_given_worse"] = (float(np.mean([
                        r["variants"][v]["gate"][b]["bound_says_better"] for r in worse])) if worse else None)
            rows.append(row)
    return rows


def markdown(rows, meta):
    v1, vr = list(VARIANTS)
    lines = [f"Scale: {meta['seeds']} seeds x {meta['conversations']} logged conversations (epsilon 0.3; 30% held out "
             f"per arm), truth from {meta['truth_listeners']} fresh listeners per arm and seed, {meta['bootstrap']} "
             f"bootstrap resamples. Machine: {meta['machine']}. {meta['date']}, {meta['wall_minutes']:.1f} min. "
             f"Each cell: median relative error / 95% CI coverage of the truth (median CI width). `{v1}`: one "
             f"cross-fitting split; `{vr}`: {VARIANTS[vr]} splits, intervals pooling their bootstraps.", "",
             f"Bootstrap only: coverage (median width) of the bootstrap interval before it is widened to the "
             f"guaranteed interval at low overlap; reliable: share of runs the overlap diagnostics accept.", "",
             f"| population | arm | truth (rule) | SeqDR {v1} | SeqDR {vr} | SeqDR bootstrap only, {v1} / {vr} | "
             f"SeqWDR {vr} | PDIS | PDWIS | HCOPE bound: promoted / false | bootstrap bound ({vr}): promoted / false | "
             f"ESS (of held-out) | reliable |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(r, v, e):
        k = f"{v}.{e}"
        if k + "_rel_error" not in r:
            return "-"
        return f"{r[k + '_rel_error']:.1%} / {r[k + '_coverage']:.0%} ({r[k + '_width']:.3f})"

    def boot(r, v):
        k = f"{v}.SeqDR_boot"
        return f"{r[k + '_coverage']:.0%} ({r[k + '_width']:.3f})" if k + "_coverage" in r else "-"

    for r in rows:
        lines.append(
            f"| {r['population']} | {r['arm']} | {r['truth']:.3f} ({r['truth_current']:.3f}) | {cell(r, v1, 'SeqDR')} | "
            f"{cell(r, vr, 'SeqDR')} | {boot(r, v1)} / {boot(r, vr)} | {cell(r, vr, 'SeqWDR')} | {cell(r, v1, 'PDIS')} | {cell(r, v1, 'PDWIS')} | "
            f"{r[vr + '.hcope_promotion']:.0%} / {r[vr + '.hcope_false_promotion']:.0%} | "
            f"{r[vr + '.bootstrap_promotion']:.0%} / {r[vr + '.bootstrap_false_promotion']:.0%} | "
            f"{r['ess']:.0f} ({r['n_test']:.0f}) | {r['reliable']:.0%} |")
    return "\n".join(lines) + "\n"


ESS_BINS = (0, 5, 20, 100, np.inf)


def by_ess(runs):
    """Every run of every population and arm, binned by the candidate's ESS: how often the
    bootstrap interval alone (before widening) covered the truth, and SeqDR's median error."""
    pairs = [v for by_seed in runs.values() for r in by_seed.values() for v in r.values()]
    out = []
    for lo, hi in zip(ESS_BINS[:-1], ESS_BINS[1:]):
        sel = [v for v in pairs if lo <= v["ess"] < hi]
        if not sel:
            continue
        row = {"ess_from": lo, "ess_to": hi, "runs": len(sel)}
        for var in VARIANTS:
            row[var] = {"boot_coverage": float(np.mean([
                v["variants"][var]["bootstrap_intervals"]["SeqDR"][0] <= v["truth"] <=
                v["variants"][var]["bootstrap_intervals"]["SeqDR"][1] for v in sel])),
                "rel_error": float(np.median([abs(v["variants"][var]["estimates"]["SeqDR"]["value"] - v["truth"]) /
                                              v["truth"] for v in sel]))}
        out.append(row)
    return out


def markdown_by_ess(bins):
    lines = ["", "SeqDR by the candidate's effective sample size (all populations and arms pooled):", "",
             "| ESS | runs | " + " | ".join(f"bootstrap-only coverage, {v} | median rel. error, {v}" for v in VARIANTS)
             + " |", "|---|---|" + "---|---|" * len(VARIANTS)]
    for b in bins:
        hi = "" if not np.isfinite(b["ess_to"]) else f"{b['ess_to']:.0f}"
        lines.append(f"| {b['ess_from']:.0f}–{hi} | {b['runs']} | " + " | ".join(
            f"{b[v]['boot_coverage']:.0%} | {b[v]['rel_error']:.1%}" for v in VARIANTS) + " |")
    return "\n".join(lines) + "\n"


def write(out: Path, runs, meta):
    done = {k: v for k, v in runs.items() if v}
    rows = summarise(done)
    meta = {**meta, "seeds": min(len(v) for v in done.values()),
            "runs_per_population": {k: len(v) for k, v in done.items()}}
    bins = by_ess(done)
    (out / "coverage.json").write_text(json.dumps({"meta": meta, "summary": rows, "by_ess": bins, "runs": runs},
                                                  indent=1))
    text = markdown(rows, meta) + markdown_by_ess(bins)
    (out / "coverage.md").write_text(text)
    plot(rows, out / "coverage.png")
    return text


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['population']}\n{r['arm']}" for r in rows]
    x = np.arange(len(rows))
    w = 0.4
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.5))
    for i, v in enumerate(VARIANTS):
        axes[0].bar(x + (i - 0.5) * w, [r.get(f"{v}.SeqDR_rel_error", np.nan) for r in rows], w, label=f"SeqDR, {v}")
        for j, (key, what) in enumerate((("coverage", "reported"), ("boot_coverage", "bootstrap only"))):
            axes[1].bar(x + (2 * i + j - 1.5) * w / 2, [r.get(f"{v}.SeqDR_{key}", np.nan) for r in rows], w / 2,
                        label=f"SeqDR {what}, {v}", color=f"C{i}", alpha=1.0 if j == 0 else 0.45)
    axes[0].axhline(0.10, color="k", ls="--", lw=1)
    axes[0].set_title("median relative error (target <= 10%)")
    axes[1].axhline(0.90, color="k", ls="--", lw=1)
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("95% CI coverage of the truth (target >= 90%)")
    v = list(VARIANTS)[-1]
    axes[2].bar(x - w / 2, [r[f"{v}.hcope_false_promotion"] for r in rows], w, label="HCOPE bound", color="C2")
    axes[2].bar(x + w / 2, [r[f"{v}.bootstrap_false_promotion"] for r in rows], w, label=f"bootstrap bound, {v}",
                color="C3")
    axes[2].axhline(0.05, color="k", ls="--", lw=1)
    axes[2].set_ylim(0, max(0.2, *[r[f"{v}.bootstrap_false_promotion"] for r in rows]))
    axes[2].set_title("gate false-promotion rate (target <= 5%)")
    for ax in axes:
        ax.set_xticks(x, labels, rotation=60, fontsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


_ASSETS = None  # loaded once in the parent, shared by forked workers


def _task(args):
    pop, seed, n_conv, n_truth, n_bootstrap, truth_current = args
    ts = time.time()
    return pop.name, seed, run_one(_ASSETS, pop, seed, n_conv, n_truth, n_bootstrap, truth_current), time.time() - ts


def _truth_task(args):
    pop, n_truth = args
    return pop.name, rule_truth(_ASSETS, pop, n_truth)


def load_populations(names: str, spec: str = None):
    pops = [population(n) for n in names.split(",") if n]
    if spec:
        text = Path(spec).read_text() if Path(spec).is_file() else spec
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise SystemExit(f"--population-json is neither a file nor JSON: {e}")
        try:
            pops += [from_dict(d) for d in (data if isinstance(data, list) else [data])]
        except (TypeError, ValueError) as e:
            raise SystemExit(f"--population-json: {e}")
    if not pops or len({p.name for p in pops}) != len(pops):
        raise SystemExit("give at least one population, each name once")
    return pops


def main(argv=None):
    global _ASSETS
    from embeddings.assets import load_assets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed + seeds - 1 "
                   "(to split a study over processes; merge their coverage.json runs and use --from-json)")
    p.add_argument("--conversations", type=int, default=30000, help="logged conversations per population and seed")
    p.add_argument("--truth-listeners", type=int, default=3000, help="fresh listeners per arm and seed for the truth")
    p.add_argument("--bootstrap", type=int, default=300)
    p.add_argument("--populations", default=",".join(POPULATIONS), help="comma-separated names (simulator.populations)")
    p.add_argument("--population-json", default=None, help="more populations: JSON (or a file of it), "
                   "an object or a list of objects as simulator.populations.from_dict reads")
    p.add_argument("--workers", type=int, default=1, help="(population, seed) pairs run in parallel")
    p.add_argument("--out", default="results/ope_coverage")
    p.add_argument("--from-json", default=None, help="only re-summarise the runs of earlier coverage.json files "
                   "(comma-separated: their runs merged, e.g. seed ranges run by separate processes)")
    a = p.parse_args(argv)
    if a.from_json:
        runs, metas = {}, []
        for path in a.from_json.split(","):
            old = json.loads(Path(path).read_text())
            metas.append(old["meta"])
            for pop, by_seed in old["runs"].items():
                runs.setdefault(pop, {}).update({int(k): v for k, v in by_seed.items()})
        keys = ("conversations", "truth_listeners", "bootstrap")
        if any(tuple(m[k] for k in keys) != tuple(metas[0][k] for k in keys) for m in metas):
            raise SystemExit(f"the files were run with different {', '.join(keys)}; their runs cannot be pooled")
        meta = {**metas[0], "wall_minutes": sum(m["wall_minutes"] for m in metas),
                "command": " + ".join(m["command"] for m in metas) + f" (merged: --from-json {a.from_json})"}
        out = Path(a.out)
        out.mkdir(parents=True, exist_ok=True)
        print(write(out, runs, meta))
        return
    pops = load_populations(a.populations, a.population_json)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    _ASSETS = load_assets()
    t0 = time.time()
    runs = {pop.name: {} for pop in pops}
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(a.workers) as pool:
        truth_current = dict(pool.map(_truth_task, [(pop, 2 * a.truth_listeners) for pop in pops]))
        print(f"[{time.time() - t0:6.0f}s] current policy's truth: {truth_current}", flush=True)
        # seed-major: an interrupted run still covers every population
        tasks = [(pop, seed, a.conversations, a.truth_listeners, a.bootstrap, truth_current[pop.name])
                 for seed in range(a.first_seed, a.first_seed + a.seeds) for pop in pops]
        for name, seed, r, secs in pool.imap(_task, tasks):
            runs[name][seed] = r
            last = list(VARIANTS)[-1]
            print(f"[{time.time() - t0:6.0f}s] {name} seed {seed}: " + "; ".join(
                f"{arm} SeqDR {x['estimates']['SeqDR']['value']:.3f} [{x['estimates']['SeqDR']['ci_low']:.3f}, "
                f"{x['estimates']['SeqDR']['ci_high']:.3f}] truth {v['truth']:.3f} (rule {v['truth_current']:.3f}) "
                f"hcope {x['gate']['hcope']['bound']:.3f} ESS {v['ess']:.0f}"
                for arm, v in r.items() for x in [v["variants"][last]]) + f" ({secs:.0f}s)", flush=True)
            meta = {"conversations": a.conversations, "truth_listeners": a.truth_listeners, "bootstrap": a.bootstrap,
                    "workers": a.workers, "populations": {pop.name: pop.description for pop in pops},
                    "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, shared",
                    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "wall_minutes": (time.time() - t0) / 60,
                    "command": "python benchmarks/ope_coverage.py " + " ".join(argv or sys.argv[1:])}
            text = write(out, runs, meta)
    print(text)


if __name__ == "__main__":
    main()
