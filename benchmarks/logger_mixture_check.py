"""Which loggers the propensities of a ``make rounds`` round should mix: every version that logged,
or only those of the conversations the arm learns and is certified on.

    python benchmarks/logger_mixture_check.py [--rounds-dir results/rounds] [--round 4] [--version current]

Takes the logs ``improve`` read before round ``--round`` (``logs/round0..round{r-1}.parquet``),
splits them as ``improve`` does, and evaluates ``--version`` of the run's registry on the
``select`` and ``certify`` conversations twice: with the balance-heuristic mixture of every logger
of the logs, and with ``improve.arm_propensities`` (only the loggers of the arm's conversations:
with listening history, the rounds that had it). Prints each sequential estimate with its 95%
CI, the ESS, and the logged success of those conversations; compare with the simulated truth of
the version in ``rounds.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds-dir", default="results/rounds")
    p.add_argument("--round", type=int, default=4, help="the round whose improve step is re-evaluated")
    p.add_argument("--version", default="current", help="the registry version to evaluate")
    p.add_argument("--bootstrap", type=int, default=20)
    a = p.parse_args(argv)

    from policy_learning.improve import _evaluate, _with_history, arm_propensities, learn_on_split
    from policy_learning.loggers import mixture_propensities
    from rounds import logs_before_round

    out = Path(a.rounds_dir)
    try:
        registry, logs = logs_before_round(out, a.round)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    deployed = registry.load(a.version)
    history = _with_history(logs)
    truth = None
    rounds = out / "rounds.json"
    if rounds.exists():
        for r in json.loads(rounds.read_text())["rounds"]:
            if r["policy_version"] == deployed.version:
                truth = r["true_success"]["value"]
    print(f"{deployed.version} ({deployed.policy.name}) on the logs of rounds 0-{a.round - 1}, "
          f"arm with history: {history}; simulated truth: {truth}")
    for label, (mixed, note) in (("every logger", mixture_propensities(logs, registry)),
                                 ("the arm's loggers", arm_propensities(logs, registry, history))):
        print(f"\n{label}: {note}")
        _, _, _, select, certify = learn_on_split(mixed, history, 0)
        for part_name, part in (("select", select), ("certify", certify)):
            logged = part.groupby("conversation_id")["success"].first().mean()
            rep = _evaluate(part, deployed.policy, a.bootstrap, 0)
            cells = ", ".join(f"{e.estimator} {e.value:.3f} [{e.ci_low:.3f}, {e.ci_high:.3f}]" for e in rep.estimates)
            print(f"  {part_name:8s} {part['conversation_id'].nunique():6d} conversations, logged success "
                  f"{logged:.3f}, ESS {rep.effective_episodes:.0f}: {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
