"""Could a candidate that deviates from the deployed policy only where the learned model expects
the most gain be certified for a bigger step than a mixture? An experiment, not part of
``make improve``.

    python benchmarks/gated_candidates.py results/rounds/logs/round0.parquet,results/rounds/logs/round1.parquet,results/rounds/logs/round2.parquet v2 2000

On the logs ``improve`` read in a round of ``make rounds`` (comma-separated) and with the version
deployed then as the current policy (from ``results/rounds/registry``), it trains the learned
policy as ``improve`` does and compares, on ``select``: mixtures ``(1 - alpha) * current + alpha *
learned`` and *gated* candidates, which follow the learned policy (with probability alpha) only
at states where its predicted usefulness gain over the current policy's choice is above the
q-quantile of those gains. For each: the ESS, the paired SeqDR difference, the bound ``improve``
would predict for ``certify``, and the truth on the given number of fresh simulated listeners.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from embeddings.assets import load_assets
from policy_learning import improve as imp
from policy_learning.gate import paired_improvement_bound
from policy_learning.registry import PolicyRegistry
from simulator.fast_path import simulate
from prompt_policies.base import PromptPolicy
from prompt_policies.mixture import _batch
from music_domain.dialogue_state import feature_names, state_features


class Gated(PromptPolicy):
    """The current policy, except at states where the learned model's predicted usefulness of its
    own choice exceeds that of the current policy's choice by more than ``tau``: there, the
    learned choice with probability ``alpha``."""

    def __init__(self, cur, learned, alpha, tau):
        self.cur, self.learned, self.alpha, self.tau = cur, learned, alpha, tau
        self.uses_history = True
        self.name = f"gated({alpha},{tau:.3f})"
        self.version = "experiment"

    def probabilities_batch(self, X):
        pc, pl = _batch(self.cur, X), _batch(self.learned, X)
        Xl = X if self.learned.uses_history else X[:, :len(feature_names(False))]
        s = np.asarray(self.learned.model.predict(Xl), float)
        gain = (s * pl).sum(1) - (s * pc).sum(1)
        g = (gain > self.tau).astype(float)[:, None] * self.alpha
        return (1 - g) * pc + g * pl

    def probabilities(self, state):
        return self.probabilities_batch(state_features(state, with_history=True)[None, :])[0]


def main():
    logs_files = sys.argv[1].split(',')
    version = sys.argv[2]
    NL = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    reg = PolicyRegistry(Path(__file__).resolve().parents[1] / 'results' / 'rounds' / 'registry')
    current = reg.load(version)
    logs = imp.load_logs(logs_files)
    with_history = imp._with_history(logs)
    logs, note = imp.arm_propensities(logs, reg, with_history)
    print(note, with_history, logs.conversation_id.nunique())
    parts, model, learned, select, certify = imp.learn_on_split(logs, with_history, 0)
    assets = load_assets()

    def truth(policy):
        convs = simulate(assets, policy, NL, seed=990_001, use_history=with_history, prefix="eval")
        return np.array([c.success for c in convs], float), np.array([c.turns for c in convs], float)

    Xs = np.stack(select["features"].to_numpy()).astype(np.float32)
    gauge = Gated(current.policy, learned, 1.0, 0.0)
    pc, pl = _batch(current.policy, Xs), _batch(learned, Xs)
    Xl = Xs if learned.uses_history else Xs[:, :len(feature_names(False))]
    s = np.asarray(gauge.learned.model.predict(Xl), float)
    gain = (s * pl).sum(1) - (s * pc).sum(1)
    print("gain quantiles", np.quantile(gain, [0.1, 0.25, 0.5, 0.75, 0.9]).round(3),
          "share of states where they differ", (np.abs(pc - pl).sum(1) > 0.5).mean())
    cur_rep = imp._evaluate(select, current.policy, 20, 0, fit_q=True)
    cs, ct = truth(current.policy)
    print(f"current {version} truth {cs.mean():.3f} turns {ct.mean():.2f}", flush=True)
    cands = [(f"mix{a}", imp.candidate(current, learned, a)) for a in (0.25, 0.5, 1.0)]
    for q in (0.5, 0.7, 0.85):
        tau = float(np.quantile(gain, q))
        for a in (0.5, 1.0):
            cands.append((f"gate q{q} a{a}", Gated(current.policy, learned, a, tau)))
    for name, pol in cands:
        t0 = time.time()
        rep = imp._evaluate(select, pol, 20, 0, fit_q=True)
        pb = paired_improvement_bound(rep, cur_rep)
        pred = imp.predicted_certificate(pb, select, certify)
        ss, tt = truth(pol)
        print(f"{name}: ESS {rep.effective_episodes:.0f} rel {rep.reliable} diff {pb['difference']:+.3f} "
              f"pred {pred:+.3f} | truth {ss.mean() - cs.mean():+.3f} succ {ss.mean():.3f} turns {tt.mean():.2f} "
              f"({time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
