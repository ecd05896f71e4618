"""How long one candidate's off-policy evaluation takes, bootstrap and cross-fitting included.

    python benchmarks/ope_timing.py --held-out 15000

Trains ``learned_history`` on the logged conversations outside a held-out set of
``--held-out`` conversations (not timed), then times ``conversation_success`` on the held-out
ones: the cross-fitted fitted Q evaluation (``--splits`` x ``--folds`` fits), every sequential estimator
with ``--bootstrap`` conversation resamples, the overlap diagnostics and the gate's lower
bounds. Prints the wall time and the machine's core count.

    python benchmarks/ope_timing.py --held-out 5000 --compare-fqe

also fits the fitted Q evaluation both ways (``policy_learning.fitted_q``: the warm-started
fit used for OPE, and the reference fit, ``DEFAULT_PARAMS`` refitted from scratch at every
backup) and prints each one's time and accuracy. Accuracy, on-policy so the answer is known:
Q of the logging policy itself, cross-fitted, predicts at each logged decision whether the
conversation ends accepted (a Monte-Carlo return, an unbiased target of that Q); the Brier
score of those out-of-fold predictions, and the relative gap of the mean predicted start
value to the logged success rate. It also prints both fits' SeqDR estimate of the candidate.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from policy_learning.fitted_q import DEFAULT_PARAMS
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
    p.add_argument("--splits", type=int, default=from_logs.N_SPLITS, help="repeated cross-fitting splits")
    p.add_argument("--compare-fqe", action="store_true", help="also time and score the reference FQE fit")
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
    report = from_logs.conversation_success(test, True, policy, n_bootstrap=a.bootstrap, n_folds=a.folds,
                                            n_splits=a.splits)
    elapsed = time.time() - t0
    dr = report.get("SeqDR")
    print(f"one candidate on {report.n_episodes} held-out conversations ({len(test)} decisions): {elapsed:.1f} s "
          f"({a.splits} x {a.folds}-fold cross-fitted FQE, {a.bootstrap} bootstrap resamples) on {os.cpu_count()} cores; "
          f"SeqDR {dr.value:.3f} [{dr.ci_low:.3f}, {dr.ci_high:.3f}], hcope bound "
          f"{report.lower_bounds['hcope']['lower_bound']:.3f}, ESS {report.effective_episodes:.0f}")
    if a.compare_fqe:
        compare_fqe(test, policy, a.folds)


def compare_fqe(test, policy, n_folds: int):
    X, actions, _ = from_logs.design(test, True)
    conv, turn, success = test["conversation_id"].to_numpy(), test["turn"].to_numpy(), test["success"].to_numpy()
    folds = from_logs.conversation_folds(conv, n_folds, 0)
    logging_dist = from_logs.logged_action_dist(test)
    first = turn == test.groupby("conversation_id")["turn"].transform("min").to_numpy()
    fits = {"warm-started (OPE)": {}, "reference (200 trees x every backup)":
            {"params": dict(DEFAULT_PARAMS), "warm_start_trees": None}}
    for name, kw in fits.items():
        t0 = time.time()
        q = from_logs.cross_fitted_q(X, actions, conv, turn, success, logging_dist, True, folds, fqe_kwargs=kw)
        seconds = time.time() - t0
        q_logged = q[np.arange(len(q)), actions]
        v0 = (logging_dist * q).sum(axis=1)[first]
        brier = float(np.mean((q_logged - success) ** 2))
        start_gap = abs(v0.mean() - success[first].mean()) / success[first].mean()
        cand = from_logs.conversation_success(test, True, policy, n_bootstrap=100, n_folds=n_folds, fqe_kwargs=kw)
        dr = cand.get("SeqDR")
        print(f"FQE {name}: {seconds:.1f} s for {n_folds} cross-fitted fits; on-policy Brier {brier:.4f} "
              f"(constant predictor {np.var(success):.4f}), start value {v0.mean():.4f} vs logged success "
              f"{success[first].mean():.4f} ({start_gap:.1%} off); candidate SeqDR {dr.value:.4f} "
              f"[{dr.ci_low:.4f}, {dr.ci_high:.4f}]")


if __name__ == "__main__":
    main()
