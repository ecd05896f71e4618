"""The continuous-improvement experiment in simulation (``make rounds``), seeds fixed.

    python benchmarks/rounds.py --rounds 7 --conversations 20000 --eval-listeners 5000 --out results/rounds
    python benchmarks/rounds.py --rounds 9 ... --resume    # two more rounds of the same experiment

Round 0 deploys the rule-based policy (registry ``v0``) with the cold-start exploration
(``--cold-start-epsilon``, default 0.2; promoted versions explore at ``--epsilon``). Each
round then logs ``--conversations`` conversations with the deployed version and its
exploration (``simulator.fast_path``, the same prompt policies and executor as ``rasa run``),
runs ``policy_learning.improve`` on every log so far, and deploys the promoted version, or
keeps the current one when the gate refuses. Listening history becomes available from round
``--history-from`` (default 2), as in the reference system's second experiment: from then on
the listeners' histories shape the samples and the logged states carry the history features,
so the next learned policy can use them.

For every round it measures the deployed version **on-policy, without exploration**, on the
same ``--eval-listeners`` fresh simulated listeners (seeds disjoint from the logs), next to the
rule-based policy on the same listeners with the same history availability, and writes
``rounds.json`` (a list ``rounds``), ``rounds.md`` and ``rounds.png``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_learning.improve import load_logs, run as improve  # noqa: E402
from policy_learning.registry import (COLD_START_EPSILON, DEFAULT_EXPLORATION, MODES, PolicyRegistry,  # noqa: E402
                                      cold_start_exploration)
from prompt_policies import RuleBasedPromptPolicy  # noqa: E402
from simulator.fast_path import log_conversations, simulate  # noqa: E402

EVAL_SEED = 990_001  # evaluation listeners; logging rounds use seeds 5000 + round


def mean_ci(x):
    """{"value", "ci_low", "ci_high"} (reference_experiment's mean_ci, keyed for rounds.json)."""
    from reference_experiment import mean_ci as interval  # benchmarks/, the script's folder

    value, low, high = interval(x)
    return {"value": value, "ci_low": low, "ci_high": high}


def on_policy(assets, policy, n, history):
    """Success and turns of ``policy`` (no exploration) on the evaluation listeners."""
    convs = simulate(assets, policy, n, seed=EVAL_SEED, use_history=history, prefix="eval")
    return mean_ci([c.success for c in convs]), mean_ci([c.turns for c in convs])


def main(argv=None):
    from embeddings.assets import load_assets

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--conversations", type=int, default=20000)
    p.add_argument("--eval-listeners", type=int, default=5000)
    p.add_argument("--history-from", type=int, default=2)
    p.add_argument("--epsilon", type=float, default=DEFAULT_EXPLORATION["epsilon"],
                   help="the exploration rate of promoted versions")
    p.add_argument("--cold-start-epsilon", type=float, default=COLD_START_EPSILON,
                   help="the exploration rate of the rule-based v0 (round 0 and until the first promotion; "
                        "at least --epsilon)")
    p.add_argument("--exploration", default=DEFAULT_EXPLORATION["mode"], choices=MODES,
                   help="the deployed exploration: epsilon_greedy (uniform) or directed (half of it toward "
                        "the newest learned component; prompt_policies.exploration)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="results/rounds")
    p.add_argument("--resume", action="store_true",
                   help="continue --out's experiment (its rounds.json, registry and logs/) up to --rounds "
                        "instead of starting afresh; the other settings must be the ones it ran with, so the "
                        "result is the one a fresh run of --rounds rounds gives")
    p.add_argument("--truth-of", metavar="VERSION", default=None,
                   help="only print the true success and turns of VERSION of --out's registry on the "
                        "evaluation listeners (--history-from 0: with history, else without), and exit")
    a = p.parse_args(argv)
    out = Path(a.out)
    if a.truth_of:
        success, turns = on_policy(load_assets(), PolicyRegistry(out / "registry").load(a.truth_of).policy,
                                   a.eval_listeners, a.history_from == 0)
        print(json.dumps({"version": a.truth_of, "history": a.history_from == 0, "true_success": success,
                          "true_turns": turns}))
        return
    out.mkdir(parents=True, exist_ok=True)
    registry = PolicyRegistry(out / "registry")
    log_files, rounds, last_improve = [], [], None
    if a.resume:
        rounds, log_files = _resumable(out, registry, a)
        last_improve = None  # the last round's entry already says how its version came to be
        if len(rounds) > a.rounds:
            p.error(f"{out} already has rounds 0-{len(rounds) - 1}; ask for more with --rounds")
    else:
        if registry.root.exists():
            shutil.rmtree(registry.root)
        registry.init(cold_start_exploration(a.exploration, a.epsilon, a.cold_start_epsilon))
    assets = load_assets()
    rule_cache = {}
    t_start = time.time()
    resume_at = len(rounds) - 1 if a.resume else None
    for r in range(max(len(rounds) - 1, 0), a.rounds + 1):
        history = r >= a.history_from
        deployed = registry.load("current")
        if r == resume_at:  # evaluated before; its logging and improve were not done
            print(f"round {r}: {deployed.version}, resumed from {out / 'rounds.json'}", flush=True)
        else:
            t0 = time.time()
            success, turns = on_policy(assets, deployed.policy, a.eval_listeners, history)
            if history not in rule_cache:
                rule_cache[history] = on_policy(assets, RuleBasedPromptPolicy(), a.eval_listeners, history)
            rule_success, rule_turns = rule_cache[history]
            entry = {"round": r, "policy_version": deployed.version, "policy": deployed.policy.name,
                     "history_available": history, "exploration": deployed.exploration,
                     "promoted": bool(last_improve and last_improve.promoted),
                     "gate_lower_bound": None, "ope_success": None, "ess": None,
                     "true_success": success, "true_turns": turns,
                     "rule_based_success": rule_success, "rule_based_turns": rule_turns,
                     "success_vs_rules": success["value"] / rule_success["value"] - 1.0,
                     "turns_vs_rules": turns["value"] / rule_turns["value"] - 1.0}
            if last_improve is not None:
                rep = last_improve.report
                seq = {e["estimator"]: e for e in rep["candidate_success"]["estimates"]}["SeqDR"]
                entry.update({"gate_lower_bound": (rep.get("gate_lower_bound") or {}).get("lower_bound"),
                              "ope_success": {k: seq[k] for k in ("value", "ci_low", "ci_high")},
                              "ess": rep["candidate_success"].get("effective_episodes"),
                              "gate_reason": rep["reason"], "alpha": rep["alpha"],
                              "candidate_with_history": rep["with_history"],
                              "ope_of_candidate_refused": not last_improve.promoted,
                              "improve_seconds": rep["seconds"]})
                if last_improve.promoted and bool(rep["with_history"]) != history:
                    # certified on logs of the other world (e.g. before listening history): its OPE
                    # estimate is compared with the truth in that world too
                    entry["true_success_as_certified"] = on_policy(assets, deployed.policy, a.eval_listeners,
                                                                   bool(rep["with_history"]))[0]
            entry["eval_seconds"] = round(time.time() - t0, 1)
            rounds.append(entry)
            print(f"round {r}: {deployed.version} ({deployed.policy.name}) success {success['value']:.3f} "
                  f"({entry['success_vs_rules']:+.1%} vs rules), turns {turns['value']:.2f} "
                  f"({entry['turns_vs_rules']:+.1%}), history {'on' if history else 'off'}", flush=True)
            _write(out, rounds, a)
        if r == a.rounds:
            break
        t0 = time.time()
        frame = log_conversations(a.conversations, 0.0, 1.0 if history else 0.0, seed=5000 + r + 100 * a.seed,
                                  workers=a.workers, policy_spec=("registry", str(registry.root), deployed.version, None))
        path = round_log(out, r)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        log_files.append(str(path))
        print(f"  logged {a.conversations} conversations with {deployed.version} in {time.time() - t0:.0f}s",
              flush=True)
        with registry.lock(timeout=60):
            last_improve = improve(load_logs(log_files), registry, str(out / f"improve_round{r + 1}"),
                                   seed=a.seed, log_files=log_files)
        print(f"  improve: {'PROMOTED ' + last_improve.version if last_improve.promoted else 'REFUSED'}: "
              f"{last_improve.reason} ({last_improve.report['seconds']:.0f}s)", flush=True)
    print(f"done in {time.time() - t_start:.0f}s -> {out / 'rounds.json'}")


def round_log(out: Path, r: int) -> Path:
    """Where round ``r`` of the experiment in ``out`` keeps the conversations it logged."""
    return Path(out) / "logs" / f"round{r}.parquet"


def logs_before_round(out: Path, r: int):
    """(the registry of the experiment in ``out``, the logs its ``improve`` read at the end of round
    ``r - 1``: those of rounds 0 to r - 1). FileNotFoundError names the missing logs."""
    files = [round_log(out, k) for k in range(r)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"missing logs {missing}: run `make rounds` (or benchmarks/rounds.py --out {out}) first")
    return PolicyRegistry(Path(out) / "registry"), load_logs([str(f) for f in files])


def _resumable(out: Path, registry: PolicyRegistry, a):
    """(rounds so far, their log files) of the experiment in ``out``, checked to be the one asked for."""
    try:
        done = json.loads((out / "rounds.json").read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--resume: cannot read {out / 'rounds.json'} ({exc}); run without --resume") from exc
    want = {"conversations_per_round": a.conversations, "eval_listeners": a.eval_listeners,
            "history_from_round": a.history_from, "epsilon": a.epsilon, "exploration": a.exploration,
            "cold_start_epsilon": a.cold_start_epsilon,
            "seed": a.seed, "eval_seed": EVAL_SEED, "workers": a.workers}  # the logs' chunk seeds follow workers
    config = done.get("config", {})
    config.setdefault("workers", 2)  # the default before rounds.json recorded it
    config.setdefault("cold_start_epsilon", config.get("epsilon"))  # before v0 explored more, it explored alike
    differ = {k: (config.get(k), v) for k, v in want.items() if config.get(k) != v}
    if differ:
        raise SystemExit(f"--resume: {out} ran with other settings (was, asked): {differ}")
    rounds = done.get("rounds") or []
    logs = [round_log(out, r) for r in range(len(rounds) - 1)]
    missing = [str(x) for x in logs if not x.is_file()]
    if not rounds or missing or not registry.root.exists():
        raise SystemExit(f"--resume: {out} lacks {missing or 'its rounds or registry'}; run without --resume")
    if registry.current() != rounds[-1]["policy_version"]:
        raise SystemExit(f"--resume: {out}'s registry serves {registry.current()}, but its last round "
                         f"deployed {rounds[-1]['policy_version']}")
    return rounds, [str(x) for x in logs]


def _write(out: Path, rounds, a) -> None:
    meta = {"rounds_requested": a.rounds, "conversations_per_round": a.conversations,
            "eval_listeners": a.eval_listeners, "history_from_round": a.history_from, "epsilon": a.epsilon,
            "exploration": a.exploration, "cold_start_epsilon": a.cold_start_epsilon,
            "seed": a.seed, "eval_seed": EVAL_SEED, "workers": a.workers}
    (out / "rounds.json").write_text(json.dumps({"config": meta, "rounds": rounds}, indent=1, default=str))
    lines = ["# Continuous improvement in simulation", "",
             f"{a.conversations} logged conversations per round, {a.exploration} exploration {a.epsilon} "
             f"({a.cold_start_epsilon} around the rule-based v0), "
             f"listening history from round {a.history_from}; true values on {a.eval_listeners} fresh listeners "
             f"without exploration (rule-based on the same listeners).", "",
             "| round | version | promoted | gate lower bound | OPE success [95% CI] | ESS | true success [95% CI] "
             "| true turns [95% CI] | success vs rules | turns vs rules |", "|---|---|---|---|---|---|---|---|---|---|"]
    for e in rounds:
        ope = e["ope_success"]
        s, t = e["true_success"], e["true_turns"]
        lb = e["gate_lower_bound"]
        ope_s = "" if ope is None else "{:.3f} [{:.3f}, {:.3f}]".format(ope["value"], ope["ci_low"], ope["ci_high"])
        lb_s = "" if lb is None else f"{lb:.3f}"
        ess_s = "" if e["ess"] is None else f"{e['ess']:.0f}"
        promoted = "yes" if e["promoted"] else ("no" if e["round"] else "")
        lines.append(f"| {e['round']} | {e['policy_version']} | {promoted} | {lb_s} | {ope_s} | {ess_s} | "
                     f"{s['value']:.3f} [{s['ci_low']:.3f}, {s['ci_high']:.3f}] | "
                     f"{t['value']:.2f} [{t['ci_low']:.2f}, {t['ci_high']:.2f}] | "
                     f"{e['success_vs_rules']:+.1%} | {e['turns_vs_rules']:+.1%} |")
    for e in rounds:
        c = e.get("true_success_as_certified")
        if c:
            lines.append(f"\nRound {e['round']}: {e['policy_version']} was certified on logs "
                         f"{'with' if e.get('candidate_with_history') else 'without'} listening history; "
                         f"its true success there is {c['value']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}] "
                         f"(the OPE estimate's target).")
    lines += ["", "![rounds](rounds.png)"]
    (out / "rounds.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    xs = [e["round"] for e in rounds]
    for ax, key, rule_key, label in ((axes[0], "true_success", "rule_based_success", "success rate"),
                                     (axes[1], "true_turns", "rule_based_turns", "mean turns")):
        v = [e[key] for e in rounds]
        ax.errorbar(xs, [x["value"] for x in v], yerr=[[x["value"] - x["ci_low"] for x in v],
                                                       [x["ci_high"] - x["value"] for x in v]],
                    fmt="o-", capsize=3, label="deployed")
        ax.plot(xs, [e[rule_key]["value"] for e in rounds], "s--", label="rule-based")
        if key == "true_success":
            o = [(e["round"], e["ope_success"]) for e in rounds if e["ope_success"]]
            if o:
                ax.errorbar([x for x, _ in o], [y["value"] for _, y in o],
                            yerr=[[y["value"] - y["ci_low"] for _, y in o], [y["ci_high"] - y["value"] for _, y in o]],
                            fmt="x", capsize=3, label="OPE at promotion")
        ax.set_xlabel("round")
        ax.set_ylabel(label)
        ax.set_xticks(xs)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rounds.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
