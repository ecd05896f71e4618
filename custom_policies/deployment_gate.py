"""The deployment gate: train a candidate prompt policy from logs, evaluate it off-policy
against the current policy on held-out logged conversations, promote only if it wins.

    python -m custom_policies.deployment_gate --logs data/logs/simulated.parquet \
        --candidate learned_history --out results/gate

Promotion rule: the lower 95% bound of the candidate's doubly robust value must exceed the
current policy's estimated value (DR point estimate). The report (JSON + Markdown + a plot)
says why a candidate was refused.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from custom_policies.learned_policy import LearnedPromptPolicy
from custom_policies.ope import evaluate
from custom_policies.prompt_policy import RuleBasedPromptPolicy
from custom_policies.training import design, read_logs, train_reward_model, training_subset
from music_domain.prompts import PROMPT_NAMES


def rule_based_action_dist(logs):
    """The deterministic rule-based target on logged states needs the state, not only features;
    its logged greedy choice is the argmax of the logging probabilities (epsilon-greedy)."""
    probs = np.stack(logs["probabilities"].to_numpy())
    out = np.zeros_like(probs)
    out[np.arange(len(probs)), probs.argmax(axis=1)] = 1.0
    return out


def split_by_conversation(logs, test_share=0.3, seed=0):
    ids = logs["conversation_id"].unique()
    rng = np.random.default_rng(seed)
    test = set(rng.choice(ids, size=int(len(ids) * test_share), replace=False))
    is_test = logs["conversation_id"].isin(test)
    return logs[~is_test], logs[is_test]


def run_gate(logs_path, candidate="learned_history", out="results/gate", deploy_to=None, seed=0):
    with_history = candidate.endswith("history")
    logs = training_subset(read_logs(logs_path), with_history)
    train, test = split_by_conversation(logs, seed=seed)
    model = train_reward_model(train, with_history, seed=seed)
    X, actions, rewards = design(test, with_history)
    pscore = test["propensity"].to_numpy()
    logging_dist = np.stack(test["probabilities"].to_numpy())
    q = model.predict(X)
    target = LearnedPromptPolicy(model, with_history).probabilities_batch(X)
    cand = evaluate(rewards, actions, pscore, target, q, logging_action_dist=logging_dist, seed=seed)
    current = evaluate(rewards, actions, pscore, rule_based_action_dist(test), q,
                       logging_action_dist=logging_dist, seed=seed)
    cand_dr, cur_dr = cand.get("DR"), current.get("DR")
    promote = cand_dr.ci_low > cur_dr.value
    reason = (f"candidate DR lower bound {cand_dr.ci_low:.4f} {'>' if promote else '<='} current policy DR "
              f"{cur_dr.value:.4f}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = {"candidate": candidate, "logs": str(logs_path), "test_decisions": int(len(test)),
              "promoted": bool(promote), "reason": reason,
              "candidate_estimates": [e.as_dict() for e in cand.estimates],
              "current_estimates": [e.as_dict() for e in current.estimates],
              "candidate_ess": cand.effective_sample_size, "candidate_max_weight": cand.max_weight,
              "warnings": cand.warnings + current.warnings,
              "candidate_prompt_share": dict(zip(PROMPT_NAMES, map(float, target.mean(axis=0))))}
    (out / "gate_report.json").write_text(json.dumps(report, indent=1))
    _plot(cand, current, candidate, out / "gate_estimates.png")
    lines = [f"# Deployment gate: {candidate}", "", f"**{'PROMOTED' if promote else 'REFUSED'}**: {reason}", "",
             "| policy | estimator | value | 95% CI |", "|---|---|---|---|"]
    for label, rep in (("candidate", cand), ("current (rule-based)", current)):
        for e in rep.estimates:
            lines.append(f"| {label} | {e.estimator} | {e.value:.4f} | [{e.ci_low:.4f}, {e.ci_high:.4f}] |")
    lines += ["", f"Effective sample size (candidate): {cand.effective_sample_size:.0f} of {cand.n}", ""]
    lines += [f"- warning: {w}" for w in report["warnings"]] or ["No support or overlap warnings."]
    lines += ["", "![estimates](gate_estimates.png)"]
    (out / "gate_report.md").write_text("\n".join(lines) + "\n")
    if promote:
        model_path = out / f"{candidate}.pkl"
        model.save(model_path)
        if deploy_to:
            Path(deploy_to).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(model_path, deploy_to)
    print(("PROMOTED: " if promote else "REFUSED: ") + reason + f" (report: {out / 'gate_report.md'})")
    return report


def _plot(cand, current, name, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (label, rep) in enumerate(((name, cand), ("rule-based", current))):
        for j, e in enumerate(rep.estimates):
            x = j + 0.15 * (1 if i == 0 else -1)
            ax.errorbar(x, e.value, yerr=[[e.value - e.ci_low], [e.ci_high - e.value]], fmt="o",
                        color="C0" if i == 0 else "C1", label=label if j == 0 else None, capsize=3)
    ax.set_xticks(range(len(cand.estimates)), [e.estimator for e in cand.estimates])
    ax.set_ylabel("prompt usefulness")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--candidate", default="learned_history", choices=["learned", "learned_history"])
    p.add_argument("--out", default="results/gate")
    p.add_argument("--deploy-to", default=None, help="copy the promoted model here")
    a = p.parse_args(argv)
    run_gate(a.logs, a.candidate, a.out, a.deploy_to)


if __name__ == "__main__":
    main()
