"""`benchmarks/rounds.py` (`make rounds`): continuing an experiment with `--resume`."""
import pandas as pd
import pytest

from conftest import ROOT
from policy_learning.registry import PolicyRegistry


def test_rounds_resumed_equal_rounds_run_at_once(tmp_path, monkeypatch):
    """`rounds.py --rounds 1` then `--rounds 3 --resume` writes the rounds.json of `--rounds 3`
    (timings aside): the same logging seeds, log files, improve calls and promotions. The
    simulator and the learner are replaced by cheap deterministic stand-ins that record what they
    were given (the real ones, at 400 conversations a round, were compared by hand: identical)."""
    import json
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import embeddings.assets
    import rounds as experiment

    calls = []

    def on_policy(assets, policy, n, history):
        v = 0.5 + 0.01 * len(policy.name) + 0.1 * history
        return {"value": v, "ci_low": v - 0.01, "ci_high": v + 0.01}, {"value": 5 - v, "ci_low": 4, "ci_high": 6}

    def log_conversations(n, eps, history, seed, workers, policy_spec):
        calls.append(("log", seed, policy_spec[2]))
        return pd.DataFrame({"seed": [seed] * 3, "version": [policy_spec[2]] * 3})

    def improve(logs, registry, out, seed, log_files):
        calls.append(("improve", tuple(Path(f).name for f in log_files), len(logs)))
        promoted = len(log_files) % 2 == 0  # rounds 2, 4, ...: promote
        report = {"candidate_success": {"estimates": [{"estimator": "SeqDR", "value": 0.7, "ci_low": 0.6,
                                                       "ci_high": 0.8}], "effective_episodes": 10.0 * len(log_files)},
                  "gate_lower_bound": {"lower_bound": 0.01 if promoted else -0.01}, "reason": f"{len(logs)} rows",
                  "alpha": 0.1, "with_history": True, "seconds": 0.0}
        version = None
        if promoted:
            version = registry.publish({"kind": "rule_based", "name": "rule_based" + "x" * len(log_files)}, {},
                                       parent=registry.current(), exploration={"mode": "directed", "epsilon": 0.1},
                                       training_logs=None, ope_report=None)
            registry.promote(version)
        return SimpleNamespace(promoted=promoted, reason=report["reason"], report=report, version=version)

    monkeypatch.setattr(experiment, "on_policy", on_policy)
    monkeypatch.setattr(experiment, "log_conversations", log_conversations)
    monkeypatch.setattr(experiment, "improve", improve)
    monkeypatch.setattr(experiment, "load_logs", lambda files: pd.concat([pd.read_parquet(f) for f in files]))
    monkeypatch.setattr(embeddings.assets, "load_assets", lambda: None)

    def run(out, *extra):
        experiment.main(["--out", str(out), "--conversations", "3", "--eval-listeners", "5", *extra])
        rounds = json.loads((out / "rounds.json").read_text())
        return [{k: v for k, v in r.items() if "seconds" not in k} for r in rounds["rounds"]], rounds["config"]

    at_once, config = run(tmp_path / "a", "--rounds", "3")
    fresh_calls, calls[:] = list(calls), []
    run(tmp_path / "b", "--rounds", "1")
    resumed, resumed_config = run(tmp_path / "b", "--rounds", "3", "--resume")
    assert resumed == at_once and resumed_config == config and calls == fresh_calls
    assert [r["promoted"] for r in at_once] == [False, False, True, False]  # the bookkeeping is exercised
    assert at_once[2]["policy_version"] == "v1" and at_once[2]["gate_lower_bound"] == 0.01


def test_rounds_resume_continues_only_the_experiment_it_was_asked_for(tmp_path):
    """`benchmarks/rounds.py --resume` continues an experiment only with its own settings, logs and
    registry."""
    import json
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import rounds as experiment

    out = tmp_path / "rounds"
    registry = PolicyRegistry(out / "registry")
    args = ["--out", str(out), "--conversations", "400", "--eval-listeners", "200", "--resume"]
    a = experiment.argparse.Namespace(conversations=400, eval_listeners=200, history_from=2, epsilon=0.1,
                                      exploration="directed", seed=0, out=str(out), workers=2,
                                      cold_start_epsilon=0.1)
    with pytest.raises(SystemExit, match="cannot read"):
        experiment.main(args + ["--rounds", "3"])
    config = {"conversations_per_round": 400, "eval_listeners": 200, "history_from_round": 2, "epsilon": 0.1,
              "exploration": "directed", "seed": 0, "eval_seed": experiment.EVAL_SEED}
    out.mkdir(exist_ok=True)
    (out / "rounds.json").write_text(json.dumps({"config": config, "rounds": [{"round": 0, "policy_version": "v0"},
                                                                            {"round": 1, "policy_version": "v0"}]}))
    registry.init({"mode": "directed", "epsilon": 0.1})
    with pytest.raises(SystemExit, match="round0.parquet"):  # the logs every later round learns from
        experiment._resumable(out, registry, a)
    (out / "logs").mkdir()
    (out / "logs" / "round0.parquet").write_bytes(b"")
    rounds, logs = experiment._resumable(out, registry, a)
    assert [r["round"] for r in rounds] == [0, 1] and logs == [str(out / "logs" / "round0.parquet")]
    a.conversations = 300
    with pytest.raises(SystemExit, match="other settings.*conversations_per_round"):
        experiment._resumable(out, registry, a)
    a.conversations, a.workers = 400, 1  # the logs' chunk seeds follow the worker count
    with pytest.raises(SystemExit, match="other settings.*workers"):
        experiment._resumable(out, registry, a)
    # a file from before v0 explored more than later versions: its v0 explored at "epsilon"
    a.workers, a.cold_start_epsilon = 2, 0.2
    with pytest.raises(SystemExit, match="other settings.*cold_start_epsilon"):
        experiment._resumable(out, registry, a)
    a.cold_start_epsilon = 0.1
    (out / "rounds.json").write_text(json.dumps({"config": config, "rounds": [{"round": 0, "policy_version": "v1"}]}))
    with pytest.raises(SystemExit, match="serves v0"):
        experiment._resumable(out, registry, a)
