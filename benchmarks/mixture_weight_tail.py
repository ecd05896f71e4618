"""Where the heavy conversation weights of a mixture candidate come from, in one ``make rounds`` round.

    python benchmarks/mixture_weight_tail.py --rounds-dir results/rounds_history_from_1 --round 3 --version v2

Redoes ``improve``'s first steps for round ``--round`` (the logs of rounds 0..r-1, the arm's
propensities, the same split and learner) and, on the ``select`` and ``certify`` conversations,
prints the largest conversation importance weights (and the ESS) of: the current policy (``--version``) alone,
the learned policy alone, and the candidates ``improve`` tries, the per-decision mixtures
(1 - alpha) current + alpha learned. Then the heaviest conversations of the largest ``--alphas``
with each one's weight under every policy, its length and its logger. A per-decision mixture can
give a large weight to a conversation that neither of its components could have had (weight 0
under both): at each prompt one of them agrees with what was logged, never both all the way.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def conversation_weights(part: pd.DataFrame, probs: dict) -> pd.DataFrame:
    """Per conversation: its length, logger, and importance weight under each policy of ``probs``
    (name -> the policy's probability of the logged prompt at each decision of ``part``)."""
    mu = part["propensity"].to_numpy()
    cols = {name: np.log(np.maximum(p, 1e-300) / mu) for name, p in probs.items()}
    frame = pd.DataFrame({"conversation": part["conversation_id"].to_numpy(),
                          "logger": part["policy_version"].astype(str).to_numpy(), **cols})
    agg = {"turns": ("logger", "size"), "logger": ("logger", "first"),
           **{name: (name, "sum") for name in probs}}
    out = frame.groupby("conversation").agg(**agg)
    for name in probs:
        out[name] = np.exp(out[name])
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds-dir", default="results/rounds")
    p.add_argument("--round", type=int, default=3, help="the round whose improve step is redone")
    p.add_argument("--version", default="current", help="the registry version that was current then")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    p.add_argument("--top", type=int, default=5)
    a = p.parse_args(argv)
    if not all(0.0 < x < 1.0 for x in a.alphas):
        p.error("--alphas are mixture weights strictly between 0 and 1")

    from policy_learning.improve import _with_history, arm_propensities, learn_on_split
    from prompt_policies import PROMPT_INDEX
    from prompt_policies.mixture import _batch
    from rounds import logs_before_round

    try:
        registry, logs = logs_before_round(Path(a.rounds_dir), a.round)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    current = registry.load(a.version)
    history = _with_history(logs)
    logs, note = arm_propensities(logs, registry, history)
    print(f"{current.version} ({current.policy.name}), logs of rounds 0-{a.round - 1}, history: {history}; "
          f"propensities: {note}")
    _, _, learned, select, certify = learn_on_split(logs, history, 0)
    for name, part in (("select", select), ("certify", certify)):
        X = np.stack(part["features"].to_numpy()).astype(np.float32)
        taken = (np.arange(len(part)), part["prompt"].map(PROMPT_INDEX).to_numpy())
        cur, new = _batch(current.policy, X)[taken], _batch(learned, X)[taken]
        probs = {"current": cur, "learned": new, **{f"alpha {x:g}": (1 - x) * cur + x * new for x in a.alphas}}
        w = conversation_weights(part, probs)
        ess = {k: w[k].sum() ** 2 / max((w[k] ** 2).sum(), 1e-300) for k in probs}  # Kish, of conversation weights
        print(f"\n{name}: {len(w)} conversations; largest weight: "
              + ", ".join(f"{k} {w[k].max():.1f}" for k in probs)
              + "; ESS: " + ", ".join(f"{k} {v:.0f}" for k, v in ess.items()))
        heaviest = w.sort_values(f"alpha {max(a.alphas):g}", ascending=False).head(a.top)
        print(heaviest.to_string(float_format=lambda v: f"{v:.1f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
