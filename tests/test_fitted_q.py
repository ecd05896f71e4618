"""Fitted Q iteration and fitted Q evaluation on a two-step problem whose Q functions are known.

Step 0: prompt 0 ends the conversation, accepted with probability 0.3; prompt 1 goes on.
Step 1: prompt a is accepted with probability P1[a] (0.2 or 0.9). The state is one feature,
the step. Logging is uniform over prompts 0 and 1.
"""
import numpy as np
import pytest

from music_domain.prompts import N_PROMPTS
from policy_learning.fitted_q import FittedQ, FittedQEvaluation
from policy_learning.ope.from_logs import LoggedStatesPolicy

P_END, P1 = 0.3, np.array([0.2, 0.9])
FAST = {"n_estimators": 40, "min_child_samples": 20}


def logged(n, seed=0):
    rng = np.random.default_rng(seed)
    X, actions, conv, turns, success = [], [], [], [], []
    for e in range(n):
        a0 = int(rng.integers(2))
        if a0 == 0:
            ok = rng.random() < P_END
            X.append([0.0]), actions.append(0), conv.append(e), turns.append(0), success.append(ok)
            continue
        a1 = int(rng.integers(2))
        ok = rng.random() < P1[a1]
        X += [[0.0], [1.0]]
        actions += [1, a1]
        conv += [e, e]
        turns += [0, 1]
        success += [ok, ok]
    return (np.asarray(X, np.float32), np.asarray(actions), np.asarray(conv), np.asarray(turns),
            np.asarray(success))


class StepPolicy:
    """Prompt ``first`` at step 0, prompt ``second`` at step 1."""

    def __init__(self, first, second):
        self.first, self.second = first, second

    def probabilities_batch(self, X):
        p = np.zeros((len(X), N_PROMPTS))
        p[np.arange(len(X)), np.where(X[:, 0] == 0, self.first, self.second)] = 1.0
        return p


@pytest.fixture(scope="module")
def data():
    return logged(12_000)


STATES = np.array([[0.0], [1.0]], np.float32)


def test_fitted_q_finds_the_optimal_values(data):
    q = FittedQ(["step"], iterations=3, gamma=1.0, turn_cost=0.0, params=FAST).fit(*data).predict(STATES)
    assert q.shape == (2, N_PROMPTS)
    assert q[0, 0] == pytest.approx(P_END, abs=0.04) and q[0, 1] == pytest.approx(P1.max(), abs=0.04)
    assert q[1, :2] == pytest.approx(P1, abs=0.04)


@pytest.mark.parametrize("second, value_of_going_on", [(1, 0.9), (0, 0.2)])
def test_fitted_q_evaluation_values_the_policy_it_is_given(data, second, value_of_going_on):
    fqe = FittedQEvaluation(StepPolicy(1, second), ["step"], iterations=3, params=FAST).fit(*data)
    q = fqe.predict(STATES)
    assert q[0, 1] == pytest.approx(value_of_going_on, abs=0.04)  # not the max, the policy's own next prompt
    assert q[0, 0] == pytest.approx(P_END, abs=0.04)
    assert q[1, :2] == pytest.approx(P1, abs=0.04)


def test_turn_cost_and_discount_lower_the_longer_path(data):
    q = FittedQ(["step"], iterations=3, gamma=0.9, turn_cost=0.05, params=FAST).fit(*data).predict(STATES)
    # going on: -0.05 now, then 0.9 * (0.9 - 0.05) later
    assert q[0, 1] == pytest.approx(-0.05 + 0.9 * (0.9 - 0.05), abs=0.05)
    assert q[0, 0] == pytest.approx(P_END - 0.05, abs=0.04)


def test_fqe_on_logged_probabilities_matches_fqe_on_the_policy(data):
    X = data[0]
    policy = StepPolicy(1, 0)
    a = FittedQEvaluation(policy, ["step"], iterations=3, params=FAST).fit(*data).predict(STATES)
    b = FittedQEvaluation(LoggedStatesPolicy(policy.probabilities_batch(X)), ["step"], iterations=3,
                          params=FAST).fit(*data).predict(STATES)
    assert np.array_equal(a, b)


def test_fqe_needs_a_policy_with_valid_probabilities(data):
    with pytest.raises(TypeError, match="needs the policy"):
        FittedQEvaluation(np.ones((3, N_PROMPTS)) / N_PROMPTS, ["step"])
    with pytest.raises(ValueError, match="known on 3 logged states"):
        FittedQEvaluation(LoggedStatesPolicy(np.ones((3, N_PROMPTS)) / N_PROMPTS), ["step"]).fit(*data)
    with pytest.raises(ValueError, match="not distributions"):
        FittedQEvaluation(LoggedStatesPolicy(np.ones((len(data[0]), N_PROMPTS))), ["step"]).fit(*data)


def test_unfitted_and_empty_inputs_raise(data):
    with pytest.raises(RuntimeError, match="not fitted"):
        FittedQ(["step"]).predict(STATES)
    with pytest.raises(ValueError, match="no logged decisions"):
        FittedQ(["step"]).fit(np.zeros((0, 1)), [], [], [], [])


def test_save_and_load_give_the_same_q(data, tmp_path):
    q = FittedQ(["step"], iterations=2, params=FAST).fit(*data)
    q.save(tmp_path / "q.pkl")
    back = FittedQ.load(tmp_path / "q.pkl")
    assert back.feature_names == ["step"] and back.gamma == q.gamma
    assert np.allclose(back.predict(STATES), q.predict(STATES))


def test_cross_fitting_never_predicts_a_conversation_it_was_fitted_on(monkeypatch):
    import policy_learning.ope.from_logs as fl

    rng = np.random.default_rng(0)
    n_conv, per = 60, 3
    conv = np.repeat(np.arange(n_conv), per)
    turn = np.tile(np.arange(1, per + 1), n_conv)
    X = np.column_stack([conv, rng.random(len(conv))]).astype(np.float32)  # column 0 names the conversation
    actions = rng.integers(0, 8, len(conv))
    seen = []

    class Recording:
        def __init__(self, policy, names, seed=0):
            self.policy = policy

        def fit(self, X, actions, conversation_ids, turns, success):
            assert len(self.policy.probabilities_batch(X)) == len(X)
            self.fitted = set(np.asarray(conversation_ids).tolist())
            return self

        def predict(self, Xp):
            seen.append((self.fitted, set(Xp[:, 0].astype(int).tolist())))
            return np.zeros((len(Xp), 8))

    monkeypatch.setattr(fl, "FittedQEvaluation", Recording)
    folds = fl.conversation_folds(conv, 3, seed=1)
    assert all(len(set(folds[conv == c])) == 1 for c in range(n_conv))  # a conversation stays in one fold
    q = fl.cross_fitted_q(X, actions, conv, turn, np.ones(len(conv), bool), np.full((len(conv), 8), 1 / 8), False,
                          folds)
    assert q.shape == (len(conv), 8) and len(seen) == 3
    for fitted, predicted in seen:
        assert fitted and predicted and not fitted & predicted
    assert set().union(*(p for _, p in seen)) == set(range(n_conv))
    with pytest.raises(ValueError, match="at least 2 folds"):
        fl.conversation_folds(conv, 1)
