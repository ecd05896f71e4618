"""The one log schema: both writers produce it, and the validator rejects what off-policy
evaluation cannot use, naming the conversation."""
import numpy as np
import pandas as pd
import pytest

from policy_learning.log_schema import COLUMN_NAMES, COLUMNS, LogError, read_logs, validate_logs
from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy
from simulator.fast_path import conversations_to_frame, simulate


@pytest.fixture(scope="module")
def frame(assets):
    convs = simulate(assets, ExplorationPolicy(RuleBasedPromptPolicy(), 0.3), 12, seed=11, history_share=0.5)
    return conversations_to_frame(assets, convs)


def test_the_simulator_writes_the_schema(frame):
    assert tuple(frame.columns) == COLUMN_NAMES
    for c in COLUMNS:
        if c.dtype != "vector":
            assert str(frame[c.name].dtype) == c.dtype, c.name
    assert validate_logs(frame) is frame


def test_written_logs_read_back_valid(frame, tmp_path):
    path = tmp_path / "logs.parquet"
    frame.to_parquet(path, index=False)
    back = read_logs(path)
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    with pytest.raises(LogError, match="no logs at"):
        read_logs(tmp_path / "missing.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(LogError, match="not a readable Parquet"):
        read_logs(tmp_path / "junk.parquet")


@pytest.mark.parametrize("column", ["success", "probabilities", "policy_version"])
def test_a_missing_column_is_rejected(frame, column):
    with pytest.raises(LogError, match=f"missing column.*{column}"):
        validate_logs(frame.drop(columns=column))


@pytest.mark.parametrize("column", ["success", "policy_version"])
def test_a_missing_value_is_rejected_naming_the_conversation(frame, column):
    broken = frame.astype({column: object})
    broken.loc[4, column] = None
    with pytest.raises(LogError, match=f"without {column} in conversation.*{broken.loc[4, 'conversation_id']}"):
        validate_logs(broken)


def _with_probabilities(frame, row, probabilities, propensity=None):
    broken = frame.copy()
    broken["probabilities"] = broken["probabilities"].copy()
    broken.at[row, "probabilities"] = np.asarray(probabilities, dtype=np.float32)
    if propensity is not None:
        broken.loc[row, "propensity"] = propensity
    return broken


def test_nan_probabilities_are_rejected(frame):
    probs = frame.at[5, "probabilities"].copy()
    probs[0] = np.nan
    broken = _with_probabilities(frame, 5, probs)
    with pytest.raises(LogError, match="NaN or infinite probabilities in conversation.*" + frame.at[5, "conversation_id"]):
        validate_logs(broken)


def test_probabilities_that_do_not_sum_to_one_are_rejected(frame):
    broken = _with_probabilities(frame, 6, frame.at[6, "probabilities"] * 0.5)
    with pytest.raises(LogError, match="do not sum to 1 in conversation.*" + frame.at[6, "conversation_id"]):
        validate_logs(broken)


def test_a_propensity_that_is_not_the_logged_prompts_probability_is_rejected(frame):
    p = frame.at[7, "propensity"]
    other = 0.5 if abs(p - 0.5) > 0.01 else 0.6
    broken = frame.copy()
    broken.loc[7, "propensity"] = other
    with pytest.raises(LogError, match="propensity is not .* probability of the logged prompt in conversation.*"
                                       + frame.at[7, "conversation_id"]):
        validate_logs(broken)


def test_probabilities_of_the_wrong_length_are_rejected(frame):
    broken = _with_probabilities(frame, 2, [1.0])
    with pytest.raises(LogError, match="probabilities are not 8 numbers in conversation.*" + frame.at[2, "conversation_id"]):
        validate_logs(broken)


def test_an_empty_or_unknown_prompt_log_is_rejected(frame):
    with pytest.raises(LogError, match="no logged decisions"):
        validate_logs(frame.iloc[:0])
    broken = frame.copy()
    broken.loc[1, "prompt"] = "sing_a_song"
    with pytest.raises(LogError, match="unknown prompt.*sing_a_song.*" + frame.at[1, "conversation_id"]):
        validate_logs(broken)


def test_greedy_logging_policy_never_reads_a_bad_row_as_prompt_zero(frame):
    from policy_learning.ope.from_logs import greedy_logging_dist

    probs = frame.at[3, "probabilities"].copy()
    probs[:] = np.nan
    with pytest.raises(LogError, match="NaN"):
        greedy_logging_dist(_with_probabilities(frame, 3, probs))
    dist = greedy_logging_dist(frame)
    logged = np.stack(frame["probabilities"].to_numpy())
    assert (dist.argmax(axis=1) == logged.argmax(axis=1)).all() and (dist.sum(axis=1) == 1).all()


def test_logging_workers_give_the_logs_of_their_chunks_run_in_process():
    """The logging pool (a forkserver: a forked pool deadlocked under `rounds.py --resume`) gives
    exactly the conversations of its chunks, each with its own seed, run here one after another."""
    from simulator.fast_path import _log_chunk, log_conversations

    pooled = log_conversations(40, 0.1, 0.0, seed=3, workers=2)
    here = pd.concat([_log_chunk((20, ("rule_based", 0.1), 0.0, 300 + i)) for i in range(2)], ignore_index=True)
    assert len(pooled) == len(here) and pooled["conversation_id"].nunique() == 40
    pd.testing.assert_frame_equal(pooled, here)
