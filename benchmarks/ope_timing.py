"""How long one candidate's off-policy evaluation takes, bootstrap and cross-fitting included.

    python benchmarks/ope_timing.py --held-out 15000

Trains ``learned_history`` on the logged conversations outside a held-out set of
``--held-out`` conversations (not timed), then times ``conversation_success`` on the held-out
ones: the cross-fitted fitted Q evaluation (``--folds`` fits), every sequential estimator
with ``--bootstrap`` conversation resamples, the overlap diagnostics and the gate's lower
bounds. Prints the wall time and the machine's core count.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from policy_learning.log_schema import read_logs
from policy_learning.ope import from_logs
from policy_learning.training import train_reward_model, training_subset
from prompt_policies.learned import LearnedPromptPolicy


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", default="data/logs/simulated.parquet")
    p.add_argument("--held-out", type=int, default=15000)
    p.add_argument("--bootstrap", type=int, default=300)
    p.add_argument("--folds", type=int, default=from_logs.N_FOLDS)
    a = p.parse_args(argv)
    logs = read_logs(a.logs)
    ids = logs["conversation_id"].unique()
    if len(ids) <= a.held_out:
        raise SystemExit(f"{a.logs} has {len(ids)} conversations, cannot hold out {a.held_out}")
    held = set(np.random.default_rng(0).choice(ids, a.held_out, replace=False))
    is_held = logs["conversation_id"].isin(held)
    policy = LearnedPromptPolicy(train_reward_model(training_subset(logs[~is_held], True), True), True)
    test = logs[is_held & (logs["outcome"] != "incomplete")]
    t0 = time.time()
    report = from_logs.conversation_success(test, True, policy, n_bootstrap=a.bootstrap, n_folds=a.folds)
    elapsed = time.time() - t0
    dr = report.get("SeqDR")
    print(f"one candidate on {report.n_episodes} held-out conversations ({len(test)} decisions): {elapsed:.1f} s "
          f"({a.folds}-fold cross-fitted FQE, {a.bootstrap} bootstrap resamples) on {os.cpu_count()} cores; "
          f"SeqDR {dr.value:.3f} [{dr.ci_low:.3f}, {dr.ci_high:.3f}], hcope bound "
          f"{report.lower_bounds['hcope']['lower_bound']:.3f}, ESS {report.effective_episodes:.0f}")


if __name__ == "__main__":
    main()
