"""The deployment gate's decision rule (``decide``, used by ``policy_learning.improve``), and a
stand-alone check of the greedy learned policy: train it from logs, evaluate it off-policy
against the logging policy's greedy part on held-out conversations, report whether the gate
would promote it. Deploying goes through ``python -m policy_learning.improve`` (``make
improve``), which promotes into the policy registry.

    python -m policy_learning.gate --logs data/logs/simulated.parquet \
        --candidate learned_history --out results/gate

The value compared is the **success rate of whole conversations** run by each policy,
estimated off-policy (``policy_learning.ope.from_logs.conversation_success``: sequential DR
with a cross-fitted fitted Q evaluation of each policy) on conversations held out from
training. Promotion rule: the candidate's **one-sided 95% lower bound** (``--bound``:
``hcope``, the default, a concentration bound with a guarantee, or ``bootstrap``, the SeqDR
bootstrap's 5% quantile, whose false-promotion rate is measured by
``benchmarks/ope_coverage.py``) must exceed the current policy's SeqDR estimate, **and** the
candidate's overlap diagnostics must not flag the estimate as unreliable
(``policy_learning.ope.diagnostics``). The current policy is the logging policy without its
exploration (the rule-based policy). The report (JSON, and Markdown + a plot from
``gate_report``) also has the per-decision prompt-usefulness estimates, the overlap
diagnostics and every support/overlap warning, and says why a candidate was refused.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


from policy_learning.gate_report import current_label, plot_estimates, write_markdown
from policy_learning.ope import from_logs as ope_from_logs
from prompt_policies.learned import LearnedPromptPolicy
from policy_learning.log_schema import read_logs
from policy_learning.training import design, split_by_conversation, train_reward_model, training_subset
from music_domain.prompts import PROMPT_NAMES


BOUNDS = ("paired", "hcope", "bootstrap")


def paired_improvement_bound(cand, current, delta: float = 0.05, estimator: str = "SeqDR") -> dict:
    """One-sided (1 - delta) lower bound on V(candidate) - V(current), from the two policies'
    per-conversation doubly robust values **on the same logged conversations** (paired): the
    conversations' randomness is shared, so the difference is far tighter than either value.
    Normal approximation to the mean of the paired differences (its coverage and the gate's
    false-promotion rate are measured by ``benchmarks/rounds.py`` against the simulated truth)."""
    import numpy as np
    from scipy.stats import norm

    a = (cand.episode_values or {}).get(estimator)
    b = (current.episode_values or {}).get(estimator)
    if a is None or b is None or len(a) != len(b) or len(a) < 10:
        raise ValueError("paired bound: both reports need per-conversation values of the same conversations")
    d = np.asarray(a, float) - np.asarray(b, float)
    mean, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    return {"lower_bound": mean - float(norm.ppf(1 - delta)) * se, "difference": mean, "se": se,
            "n_used": int(len(d)), "delta": float(delta), "method": "paired"}


def decide(cand, current, bound: str = "paired", delta: float = 0.05):
    """(promote, reason, the bound used) from the candidate's and the current policy's
    ``SequentialReport``s on the same held-out conversations. ``paired``: promote only if the
    one-sided 95% lower bound on the candidate's improvement is above 0; ``hcope`` /
    ``bootstrap``: only if the candidate's one-sided lower bound is above the current policy's
    estimate. Never when the candidate's overlap diagnostics say the estimate is unreliable.
    ``delta``: the paired bound's error level; the other bounds are computed at 0.05 by the OPE
    report."""
    if bound not in BOUNDS:
        raise ValueError(f"unknown bound {bound!r}; one of {BOUNDS}")
    if bound == "paired":
        try:
            lb = paired_improvement_bound(cand, current, delta=delta)
        except ValueError as e:
            return False, str(e), None
        threshold = 0.0
        claim = (f"candidate's success minus the current policy's, paired sequential DR on the same "
                 f"{lb['n_used']} held-out conversations: {lb['difference']:+.4f}, one-sided "
                 f"{1 - lb['delta']:.0%} lower bound {lb['lower_bound']:+.4f}")
    else:
        lb = cand.lower_bounds.get(bound)
        if lb is None:
            return False, f"no {bound} lower bound could be computed for the candidate", None
        threshold = current.get("SeqDR").value
        claim = f"candidate success {bound} one-sided {1 - lb['delta']:.0%} lower bound {lb['lower_bound']:.4f}"
    if not cand.reliable:
        why = "; ".join(w for w in cand.warnings if w.startswith(("overlap", "support:")))
        return False, (f"the candidate's estimate is unreliable ({why}); its {bound} lower bound "
                       f"{lb['lower_bound']:+.4f} is not used"), lb
    better = lb["lower_bound"] > threshold
    target = "0" if bound == "paired" else f"current policy's {threshold:.4f} (sequential DR)"
    return bool(better), f"{claim} {'>' if better else '<='} {target}", lb


def run_gate(logs_path, candidate="learned_history", out="results/gate", seed=0,
             n_bootstrap=300, bound="hcope"):
    with_history = candidate.endswith("history")
    logs = training_subset(read_logs(logs_path), with_history)
    train, test = split_by_conversation(logs, seed=seed)
    model = train_reward_model(train, with_history, seed=seed)
    X, _, _ = design(test, with_history)
    candidate_policy = LearnedPromptPolicy(model, with_history)
    target = candidate_policy.probabilities_batch(X)
    current_policy = ope_from_logs.LoggedStatesPolicy(ope_from_logs.greedy_logging_dist(test))
    cand = ope_from_logs.conversation_success(test, with_history, candidate_policy, n_bootstrap, seed)
    current = ope_from_logs.conversation_success(test, with_history, current_policy, n_bootstrap, seed)
    cand_pd = ope_from_logs.per_decision(test, with_history, candidate_policy, None, n_bootstrap, seed)
    current_pd = ope_from_logs.per_decision(test, with_history, current_policy, None, n_bootstrap, seed)
    promote, reason, lb = decide(cand, current, bound)
    warnings = [f"candidate: {w}" for w in cand.warnings + cand_pd.warnings] + \
               [f"current: {w}" for w in current.warnings + current_pd.warnings]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"candidate": candidate, "logs": str(logs_path), "test_conversations": int(test["conversation_id"].nunique()),
              "test_decisions": int(len(test)), "promoted": promote, "reason": reason,
              "candidate_success": cand.as_dict(), "current_success": current.as_dict(),
              "candidate_prompt_usefulness": [e.as_dict() for e in cand_pd.estimates],
              "current_prompt_usefulness": [e.as_dict() for e in current_pd.estimates],
              "candidate_decision_ess": cand_pd.effective_sample_size, "warnings": warnings,
              "bound": bound, "gate_lower_bound": lb, "candidate_reliable": cand.reliable,
              "candidate_decision_diagnostics": cand_pd.diagnostics,
              "candidate_prompt_share": dict(zip(PROMPT_NAMES, map(float, target.mean(axis=0))))}
    (out / "gate_report.json").write_text(json.dumps(report, indent=1))
    plot_estimates(cand, current, candidate, out / "gate_estimates.png", current_label(report))
    write_markdown(report, cand, current, cand_pd, current_pd, out / "gate_report.md")
    print(("WOULD PROMOTE: " if promote else "REFUSED: ") + reason + f" (report: {out / 'gate_report.md'})")
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--candidate", default="learned_history", choices=["learned", "learned_history"])
    p.add_argument("--out", default="results/gate")
    p.add_argument("--bound", default="hcope", choices=BOUNDS, help="the one-sided lower bound the gate promotes on")
    a = p.parse_args(argv)
    run_gate(a.logs, a.candidate, a.out, bound=a.bound)


if __name__ == "__main__":
    main()
