"""One round of improvement: logs -> candidates -> off-policy certificate -> promote -> deploy.

    python -m policy_learning.improve --logs data/logs/simulated.parquet data/logs/exported.parquet \
        --export-from rasa_project/endpoints.yml --deploy --server http://127.0.0.1:5005

1. **Logs.** The Parquet files given, plus (``--export-from``) the conversations in the
   assistant's tracker store (SQLite by default, PostgreSQL by its endpoints file), exported
   with ``policy_learning.log_export``. Every decision carries its own logging propensity, so
   logs of several deployed versions are used together.
2. **Split by conversation** (a seeded hash, so a conversation stays on its side from round to
   round): ``train`` (fit the reward model), ``select`` (choose the candidate) and ``certify``
   (the held-out conversations the gate's bound is computed on). Choosing on one part and
   certifying on another keeps the certificate honest (HCPI, Thomas et al. 2015).
3. **Candidates: safe policy improvement by mixing.** ``(1 - alpha) * current + alpha * learned``
   for each ``alpha`` in ``--alphas``: the candidate deviates from the deployed policy only by
   alpha, so its importance weights on logs of the deployed policy stay bounded. Among the
   alphas whose overlap on ``select`` is ample (ESS twice the diagnostics' threshold), the one
   with the highest *predicted* certificate is the candidate: the gate's own bound computed on
   ``select``, its width doubled and scaled to the size of ``certify`` (HCPI's conservative
   prediction). The **ladder** is fixed there too: the smaller supported alphas whose predicted
   bound is positive, then the chosen one. Both are fixed before ``certify`` is looked at.
4. **The gate** (``policy_learning.gate.decide``, ``--bound paired`` by default): a step is
   certified only if the one-sided 95% lower bound on its improvement over the current policy
   (paired sequential doubly robust values on the same ``certify`` conversations) is above 0
   and the overlap diagnostics call the estimate reliable. The ladder's steps are certified in
   ascending order, each at 95%, and the first refusal stops it (fixed-sequence testing,
   ``certify_ladder``): the largest step certified is promoted, and the chance of promoting a
   policy that is not better stays at most ``DELTA``. The report (JSON, Markdown, plot) says why.
5. **Promote** into the policy registry (``policy_learning.registry``): a new version with the
   model, feature schema, logs digest, this report, its parent and its exploration; ``current``
   moves atomically. **Deploy** (``--deploy``): ``rasa train`` (only the prompt policy retrains:
   Rasa's cache keeps the NLU) and, if a server is running, ``PUT /model`` with the API token,
   so the next conversation is answered by the new version without a restart.

A refusal leaves ``current`` and the running model as they were. The registry's lock makes a
second ``improve`` wait (``--wait`` seconds) or refuse.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from policy_learning.deploy import DeployError, deploy
from policy_learning.ope.diagnostics import MIN_ESS, MIN_ESS_SHARE
from policy_learning.registry import ArtefactError, Deployed, PolicyRegistry, RegistryBusy, successor_exploration

DEFAULT_ALPHAS = (0.1, 0.25, 0.5, 0.75, 1.0)
DELTA = 0.05  # the gate's error level: P(promoting a policy that is not better) <= DELTA
SHARES = {"train": 0.5, "select": 0.2, "certify": 0.3}
MIN_CONVERSATIONS = 200


class ImproveError(RuntimeError):
    pass


@dataclass
class Outcome:
    promoted: bool
    reason: str
    current: str
    version: Optional[str] = None  # the new version, when promoted
    report: Dict[str, Any] = field(default_factory=dict)
    deployed: Optional[str] = None  # what happened to the running server


# -- logs ----------------------------------------------------------------------------------
def load_logs(paths: Sequence[str], export_from: Optional[str] = None, export_to: Optional[str] = None,
              domain: str = "domain.yml") -> pd.DataFrame:
    from policy_learning.log_schema import read_logs

    frames = []
    for path in paths:
        if not Path(path).exists():
            print(f"improve: no logs at {path}; skipped", file=sys.stderr)
            continue
        frames.append(read_logs(path))
    if export_from:
        frames.append(export_tracker_store(export_from, export_to, domain))
    frames = [f for f in frames if len(f)]
    if not frames:
        raise ImproveError("no logged conversations to learn from: give --logs (e.g. `make logs`) or "
                           "--export-from an endpoints file whose tracker store has conversations")
    logs = pd.concat(frames, ignore_index=True)
    logs = logs.drop_duplicates(["conversation_id", "turn"], keep="last")
    return logs.sort_values(["conversation_id", "turn"], kind="stable").reset_index(drop=True)


def export_tracker_store(endpoints: str, out: Optional[str], domain: str = "domain.yml") -> pd.DataFrame:
    import asyncio

    from embeddings.assets import load_assets
    from music_domain.dialogue_engine import MusicDialogueEngine
    from policy_learning.log_export import export_trackers, read_tracker_store, resolve_salt, write_parquet

    trackers = asyncio.run(read_tracker_store(endpoints, domain))
    frame, report = export_trackers(trackers, MusicDialogueEngine(load_assets()), resolve_salt(None))
    for problem in report.problems[:20]:
        print(f"improve: export warning: {problem}", file=sys.stderr)
    print(f"improve: {report.summary()}")
    if out:
        write_parquet(frame, Path(out))
    return frame


def split(logs: pd.DataFrame, seed: int = 0) -> Dict[str, pd.DataFrame]:
    """train / select / certify, by a seeded hash of the conversation id."""
    ids = logs["conversation_id"].astype(str)
    u = ids.map(lambda c: int(hashlib.sha256(f"{seed}:{c}".encode()).hexdigest()[:12], 16) / 16 ** 12)
    edges = np.cumsum([SHARES["train"], SHARES["select"]])
    part = np.where(u < edges[0], "train", np.where(u < edges[1], "select", "certify"))
    return {name: logs[part == name] for name in SHARES}


def logs_digest(logs: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for c, t, p, r in logs[["conversation_id", "turn", "prompt", "reward"]].itertuples(index=False):
        h.update(f"{c}|{t}|{p}|{r}\n".encode())
    return h.hexdigest()


# -- candidates ----------------------------------------------------------------------------
def _with_history(logs: pd.DataFrame) -> bool:
    """Learn with the listening-history features once any logged conversation had history."""
    return bool("history_used" in logs.columns and logs["history_used"].fillna(False).astype(bool).any())


def arm_propensities(logs: pd.DataFrame, registry: PolicyRegistry, with_history: bool):
    """(the arm's conversations with the propensities of the process that logged *them*, what was
    done). Logs of several deployed versions are one logging process (the balance heuristic,
    ``policy_learning.loggers``), but only over the loggers of the conversations evaluated: once
    listening history arrives, the history arm learns from the later rounds' logs alone, and a
    mixture that also counted the earlier rounds' loggers (which never wrote a conversation with
    history) gave wrong propensities: on `make rounds`' logs before round 4, PDIS and PDWIS of the
    deployed policy said 1.000 and 0.934 against a simulated truth of 0.859, and 0.859 / 0.855
    over the right loggers (``benchmarks/logger_mixture_check.py``)."""
    from policy_learning.loggers import mixture_propensities
    from policy_learning.training import arm_subset

    return mixture_propensities(arm_subset(logs, with_history), registry)


def candidate(current: Deployed, learned, alpha: float):
    from prompt_policies.mixture import MixturePolicy

    return MixturePolicy([(1.0 - alpha, current.policy), (alpha, learned)],
                         name=f"mixture(alpha={alpha:g}: {current.version} + {learned.name})")


def _spec(current: Deployed, alpha: float, model_file: str, with_history: bool) -> Dict[str, Any]:
    spec = current.manifest.get("policy") or {"kind": "rule_based"}
    parts = spec["components"] if spec.get("kind") == "mixture" else [{**spec, "weight": 1.0}]
    components = [{**c, "weight": float(c["weight"]) * (1.0 - alpha)} for c in parts if (1.0 - alpha) > 0]
    components.append({"kind": "reward_model", "file": model_file, "with_history": with_history,
                       "weight": float(alpha)})
    name = f"mixture(alpha={alpha:g}: {current.version} + learned{'_history' if with_history else ''})"
    return {"kind": "mixture", "name": name, "components": components}


def learn_on_split(logs: pd.DataFrame, with_history: bool, seed: int = 0):
    """(parts, reward model, learned policy, select, certify): the conversations split by
    ``split``, the reward model fitted on ``train``, and the ``select`` / ``certify`` decisions
    the candidates are chosen and certified on (those with history when learning with it)."""
    from policy_learning.training import train_reward_model, training_subset
    from prompt_policies import LearnedPromptPolicy

    parts = split(logs, seed)
    model = train_reward_model(training_subset(parts["train"], with_history), with_history, seed=seed)
    learned = LearnedPromptPolicy(model, with_history, version="candidate")
    select = training_subset(parts["select"], with_history) if with_history else parts["select"]
    certify = training_subset(parts["certify"], with_history) if with_history else parts["certify"]
    return parts, model, learned, select, certify


def predicted_certificate(paired_bound: Dict[str, Any], select: pd.DataFrame, certify: pd.DataFrame) -> float:
    """HCPI's conservative prediction of the gate's bound on ``certify`` from a paired bound on
    ``select``: the width doubled and scaled by the square root of the two parts' sizes."""
    n_ratio = np.sqrt(select["conversation_id"].nunique() / max(certify["conversation_id"].nunique(), 1))
    diff = paired_bound["difference"]
    return diff - 2.0 * (diff - paired_bound["lower_bound"]) * n_ratio


@dataclass
class Certificate:
    """What ``certify_ladder`` decided: promote or not, why, the bound used, the alpha and the
    report of the candidate it is about (the promoted step, else the first refused), the error
    level, and each step's record."""
    promote: bool
    reason: str
    bound: Optional[Dict[str, Any]]
    alpha: float
    report: Any
    delta: float
    ladder: List[Dict[str, Any]] = field(default_factory=list)


def certify_ladder(evaluate, current_report, alphas: Sequence[float], bound: str = "paired") -> Certificate:
    """The gate on ``certify`` for a ladder of steps fixed on ``select`` (``evaluate(alpha)`` gives a
    candidate's report on the certification conversations): **fixed-sequence testing**, the steps
    in ascending order, each at the whole ``DELTA``; the first refusal stops the ladder, and the
    largest step certified before it is promoted. A policy that is not better is promoted only if
    the first such step of the ladder passes its own test, so the chance is at most ``DELTA``
    whatever the steps (Maurer, Hothorn & Lehmacher 1995; ``tests`` measure it). Smaller steps
    carry smaller importance weights, so the ladder climbs in the order of its support: when the
    bold step is unreliable (one heavy-weight conversation ``select`` never held) the round still
    deploys the largest step the logs certify, instead of nothing."""
    from policy_learning.gate import decide

    steps = sorted({float(a) for a in alphas})
    if not steps:
        raise ValueError("the ladder needs at least one step")
    record: List[Dict[str, Any]] = []
    passed = None
    for a in steps:
        report = evaluate(a)
        promote, reason, lb = decide(report, current_report, bound, DELTA)
        record.append({"alpha": a, "promoted": bool(promote), "reason": reason,
                       "lower_bound": None if lb is None else float(lb["lower_bound"])})
        if not promote:
            refused = (a, report, reason, lb)
            break
        passed = (a, report, reason, lb)
    else:
        refused = None
    if passed is None:
        a, report, reason, lb = refused
        if len(steps) > 1:
            reason = f"{reason} (alpha {a:g}, the first step of the ladder {', '.join(f'{x:g}' for x in steps)})"
        return Certificate(False, reason, lb, a, report, DELTA, record)
    a, report, reason, lb = passed
    if refused is not None:
        reason = (f"{reason} (alpha {a:g}, the largest step of the ladder certified; alpha {refused[0]:g} was "
                  f"refused: {refused[2]})")
    return Certificate(True, reason, lb, a, report, DELTA, record)


def _evaluate(logs, policy, n_bootstrap, seed, fit_q=True):
    from policy_learning.ope import from_logs

    return from_logs.conversation_success(logs, True, policy, n_bootstrap, seed, fit_q=fit_q)


def run(logs: pd.DataFrame, registry: PolicyRegistry, out: str = "results/improve", alphas=DEFAULT_ALPHAS,
        bound: str = "paired", seed: int = 0, n_bootstrap: int = 200, exploration: Optional[Dict] = None,
        log_files: Sequence[str] = ()) -> Outcome:
    """Train, choose, certify, and promote or refuse (the registry lock must be held)."""
    from policy_learning.gate_report import current_label, plot_estimates, write_markdown
    from policy_learning.ope import from_logs

    t0 = time.time()
    current = registry.load("current")
    n_conv = logs["conversation_id"].nunique()
    if n_conv < MIN_CONVERSATIONS:
        raise ImproveError(f"{n_conv} logged conversations are too few to learn and certify a policy "
                           f"(at least {MIN_CONVERSATIONS}); log more conversations first")
    with_history = _with_history(logs)
    logs, loggers_note = arm_propensities(logs, registry, with_history)
    n_arm = logs["conversation_id"].nunique()
    if n_arm < MIN_CONVERSATIONS:
        raise ImproveError(f"{n_arm} logged conversations {'with' if with_history else 'without'} listening history "
                           f"are too few to learn and certify a policy (at least {MIN_CONVERSATIONS}); log more "
                           f"conversations first")
    print(f"improve: propensities: {loggers_note}")
    parts, model, learned, select, certify = learn_on_split(logs, with_history, seed)
    # choose alpha on `select` by the bound the gate will use, predicted for the size of
    # `certify` (HCPI); `certify` is not looked at
    from policy_learning.gate import paired_improvement_bound

    choices = []
    # choosing uses the estimator the gate certifies with (paired sequential DR, its fitted Q
    # cross-fitted on `select` alone): importance sampling alone (PDIS) predicted bounds several
    # times wider than the certificate's and so always chose the smallest step
    # (benchmarks/alpha_selection.py compares both with the simulated truth)
    fit_q = bound in ("paired", "bootstrap")
    cur_select = _evaluate(select, current.policy, 20, seed, fit_q=fit_q) if bound == "paired" else None
    for alpha in alphas:
        rep = _evaluate(select, candidate(current, learned, alpha), 20, seed, fit_q=fit_q)
        if bound == "paired":
            lb = predicted_certificate(paired_improvement_bound(rep, cur_select, DELTA, "SeqDR"), select, certify)
        else:
            lb = (rep.lower_bounds.get(bound) or {}).get("lower_bound", float("-inf"))
        # the gate's estimator (SeqDR), else PDWIS: the first of the two in the report's order was
        # PDWIS, so the select estimate shown was not the one alpha was chosen by
        est = next((e for name in ("SeqDR", "PDWIS") for e in rep.estimates if e.estimator == name), None)
        n_sel = rep.n_episodes
        # support with a margin: the diagnostics' thresholds, twice over, so that the rare
        # heavy-weight conversations `select` happened to miss don't make `certify` unreliable
        supported = bool(rep.reliable) and rep.effective_episodes >= 2 * max(MIN_ESS, MIN_ESS_SHARE * n_sel)
        choices.append({"alpha": float(alpha), "select_lower_bound": float(lb),
                        "select_estimate": None if est is None else est.value, "reliable": bool(rep.reliable),
                        "ess": float(rep.effective_episodes), "n": int(n_sel), "supported": supported})
    # among the well-supported candidates the best predicted bound, else the one closest to the
    # current policy
    usable = [c for c in choices if c["supported"]] or [min(choices, key=lambda c: c["alpha"])]
    best = max(usable, key=lambda c: c["select_lower_bound"])
    alpha = best["alpha"]
    # The ladder, fixed on `select` before `certify` is looked at: the smaller well-supported
    # steps whose predicted bound is positive, then the chosen one, certified in ascending order
    # (``certify_ladder``). A bold step that looked well supported on `select` was refused on
    # `certify` in `make rounds` (round 2: one heavy-weight conversation `select` never saw made it
    # unreliable) and in a set-up (alpha 0.75, one conversation 50% of the weight), and the round
    # was lost; the ladder deploys the largest step below it that `certify` supports.
    steps = [alpha]
    if bound == "paired":
        steps = [c["alpha"] for c in usable if c["alpha"] < alpha and c["supported"] and c["select_lower_bound"] > 0]
        steps.append(alpha)
    cur = _evaluate(certify, current.policy, n_bootstrap, seed)
    cert = certify_ladder(lambda a: _evaluate(certify, candidate(current, learned, a), n_bootstrap, seed),
                          cur, steps, bound)
    promote, reason, lb, alpha, cand, delta = cert.promote, cert.reason, cert.bound, cert.alpha, cert.report, cert.delta
    cand_policy = candidate(current, learned, alpha)
    X = np.stack(certify["features"].to_numpy()).astype(np.float32)
    cand_pd = from_logs.per_decision(certify, True, cand_policy, None, n_bootstrap, seed)
    cur_pd = from_logs.per_decision(certify, True, current.policy, None, n_bootstrap, seed)
    from music_domain.prompts import PROMPT_NAMES

    report = {"candidate": cand_policy.name, "current_version": current.version, "alpha": alpha,
              "propensities": loggers_note,
              "with_history": with_history, "alpha_selection": choices, "bound": bound, "delta": delta,
              "chosen_alpha": float(best["alpha"]), "ladder_planned": [float(a) for a in steps],
              "ladder": cert.ladder,
              "logs": {"files": [str(f) for f in log_files], "conversations": int(n_arm),
                       "conversations_given": int(n_conv), "decisions": int(len(logs)),
                       "sha256": logs_digest(logs),
                       "split_conversations": {k: int(v["conversation_id"].nunique()) for k, v in parts.items()}},
              "test_conversations": int(certify["conversation_id"].nunique()), "test_decisions": int(len(certify)),
              "promoted": bool(promote), "reason": reason, "gate_lower_bound": lb,
              "candidate_success": cand.as_dict(), "current_success": cur.as_dict(),
              "candidate_reliable": bool(cand.reliable),
              "candidate_prompt_usefulness": [e.as_dict() for e in cand_pd.estimates],
              "current_prompt_usefulness": [e.as_dict() for e in cur_pd.estimates],
              "warnings": [f"candidate: {w}" for w in cand.warnings + cand_pd.warnings]
              + [f"current: {w}" for w in cur.warnings + cur_pd.warnings],
              "candidate_prompt_share": dict(zip(PROMPT_NAMES, map(float, cand_policy.probabilities_batch(X).mean(axis=0)))),
              "seconds": round(time.time() - t0, 1)}
    outcome = Outcome(bool(promote), reason, current.version, report=report)
    if promote:
        model_file = f"reward_model_{hashlib.sha256(model.to_text().encode()).hexdigest()[:12]}.txt"
        models = {name: data.decode("utf-8") for name, data in registry.files(current.version).items()
                  if name != "manifest.json"}
        models[model_file] = model.to_text()
        version = registry.publish(_spec(current, alpha, model_file, with_history), models, parent=current.version,
                                   exploration=exploration or successor_exploration(current.exploration),
                                   training_logs=report["logs"], ope_report=report,
                                   note=f"promoted by policy_learning.improve: {reason}")
        registry.promote(version)
        outcome.version = version
        report["version"] = version
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "improve_report.json").write_text(json.dumps(report, indent=1, default=str))
    plot_estimates(cand, cur, f"candidate (alpha={alpha:g})", outdir / "gate_estimates.png",
                   current_label(report))
    write_markdown(report, cand, cur, cand_pd, cur_pd, outdir / "improve_report.md")
    return outcome


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", nargs="*", default=["data/logs/simulated.parquet"])
    p.add_argument("--export-from", default=None, help="endpoints file whose tracker store to export")
    p.add_argument("--export-to", default="data/logs/exported.parquet")
    p.add_argument("--registry", default=None)
    p.add_argument("--out", default="results/improve")
    p.add_argument("--alphas", type=float, nargs="+", default=list(DEFAULT_ALPHAS))
    p.add_argument("--bound", default="paired", choices=["paired", "hcope", "bootstrap"],
                   help="paired: lower bound on the improvement over the current policy (default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for another improve to finish")
    p.add_argument("--deploy", action="store_true", help="on promotion: rasa train, then reload the server")
    p.add_argument("--server", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"),
                   help="a running `rasa run --enable-api` to reload after deploying ('' for none)")
    p.add_argument("--config", default="config.yml", help="the Rasa config whose model serves the registry")
    p.add_argument("--models", default="models", help="where `rasa train` writes the model")
    a = p.parse_args(argv)
    for alpha in a.alphas:
        if not 0 < alpha <= 1:
            p.error(f"--alphas must be in (0, 1], got {alpha}")
    registry = PolicyRegistry(a.registry)
    try:
        with registry.lock(timeout=a.wait):
            registry.init()
            logs = load_logs(a.logs, a.export_from, a.export_to)
            outcome = run(logs, registry, a.out, a.alphas, a.bound, a.seed, log_files=a.logs)
            if outcome.promoted:
                print(f"PROMOTED {outcome.version} (parent {outcome.current}): {outcome.reason}")
            else:
                print(f"REFUSED: {outcome.reason}; {outcome.current} keeps serving")
            print(f"report: {Path(a.out) / 'improve_report.md'}")
            if outcome.promoted and a.deploy:
                print(deploy(a.server or None, os.environ.get("RASA_AUTH_TOKEN"), a.config, a.models))
    except (ImproveError, DeployError, ArtefactError, RegistryBusy) as e:
        print(f"improve: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
