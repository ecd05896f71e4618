"""The deployment gate's human-readable report: Markdown and a plot of the estimates."""
from __future__ import annotations

from pathlib import Path


def current_label(report: dict) -> str:
    """How the report names the policy the candidate is compared with: the registry version
    that serves (``make improve``), or the policy that logged the conversations (``make gate``)."""
    version = report.get("current_version")
    return f"current ({version})" if version else "current (the logging policy, greedy)"


def write_markdown(report: dict, cand, current, cand_pd, current_pd, path) -> None:
    candidate, promote, reason = report["candidate"], report["promoted"], report["reason"]
    current_name = current_label(report)
    lines = [f"# Deployment gate: {candidate}", "", f"**{'PROMOTED' if promote else 'REFUSED'}**: {reason}", "",
             f"Held-out logged conversations: {report['test_conversations']} ({report['test_decisions']} decisions).", "",
             "Conversation success rate (sequential OPE):", "",
             "| policy | estimator | value | 95% CI |", "|---|---|---|---|"]
    for label, rep in (("candidate", cand), (current_name, current)):
        for e in rep.estimates:
            lines.append(f"| {label} | {e.estimator} | {e.value:.4f} | [{e.ci_low:.4f}, {e.ci_high:.4f}] |")
    lb = report.get("gate_lower_bound")
    if lb:
        lines += ["", f"Gate bound ({lb['method']}): one-sided {1 - lb['delta']:.0%} lower bound on the candidate's "
                  f"success {lb['lower_bound']:.4f}" + (f" (clip c = {lb['clip']:.2f}, {lb['n_used']} conversations)"
                                                        if "clip" in lb else "")]
    ladder = report.get("ladder") or []
    if len(ladder) > 1 or (ladder and report.get("chosen_alpha") not in (None, ladder[-1]["alpha"])):
        planned = ", ".join(f"{a:g}" for a in report.get("ladder_planned") or [s["alpha"] for s in ladder])
        lines += ["", f"Ladder {planned} (fixed on the selection split; chosen alpha {report.get('chosen_alpha', 0):g}): "
                  "each step certified at 95% in ascending order, the first refusal stops it, the largest "
                  "step certified is promoted (fixed-sequence testing)", "",
                  "| alpha | certified | paired lower bound | why |", "|---|---|---|---|"]
        for step in ladder:
            lb = "" if step.get("lower_bound") is None else f"{step['lower_bound']:+.4f}"
            lines.append(f"| {step['alpha']:g} | {'yes' if step['promoted'] else 'no'} | {lb} | "
                         f"{step['reason'].replace('|', '/')} |")
    d = cand.diagnostics or {}
    if d:
        w = d["weights"]
        lines += ["", f"Overlap of the candidate (conversation weights): ESS {d['ess']:.0f} of {d['n']} "
                  f"({d['ess_share']:.1%}); weight median {w['q50']:.3g}, 90% {w['q90']:.3g}, 99% {w['q99']:.3g}, "
                  f"max {w['max']:.3g} ({w['max_share']:.1%} of the total); zero weight in {w['zero_share']:.1%}; "
                  f"target mass on prompts never logged in those states: {d['unsupported_mass'] or 0.0:.2%}; "
                  f"{'reliable' if d['reliable'] else 'UNRELIABLE'}"]
        if d.get("per_prompt"):
            lines += ["", "| prompt | logged decisions | candidate's mean probability | supported share |",
                      "|---|---|---|---|"]
            for name, e in d["per_prompt"].items():
                lines.append(f"| {name} | {e['logged']} | {e['target_mass']:.3f} | {e.get('supported_share', 1.0):.1%} |")
    lines += ["", f"Effective conversations (candidate's trajectory weights): {cand.effective_episodes:.0f} "
              f"of {cand.n_episodes}", "", "Mean prompt usefulness on the logged states (per-decision OPE):", "",
              "| policy | estimator | value | 95% CI |", "|---|---|---|---|"]
    for label, rep in (("candidate", cand_pd), (current_name, current_pd)):
        for e in rep.estimates:
            lines.append(f"| {label} | {e.estimator} | {e.value:.4f} | [{e.ci_low:.4f}, {e.ci_high:.4f}] |")
    lines += [""] + ([f"- warning: {w}" for w in report["warnings"]] or ["No support or overlap warnings."])
    lines += ["", "![estimates](gate_estimates.png)"]
    Path(path).write_text("\n".join(lines) + "\n")


def plot_estimates(cand, current, name, path, current_name: str = "current") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    for i, (label, rep) in enumerate(((name, cand), (current_name, current))):
        for j, e in enumerate(rep.estimates):
            x = j + 0.15 * (1 if i == 0 else -1)
            ax.errorbar(x, e.value, yerr=[[e.value - e.ci_low], [e.ci_high - e.value]], fmt="o",
                        color="C0" if i == 0 else "C1", label=label if j == 0 else None, capsize=3)
    ax.set_xticks(range(len(cand.estimates)), [e.estimator for e in cand.estimates])
    ax.set_ylabel("conversation success rate")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
