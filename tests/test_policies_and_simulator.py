"""Prompt policies, exploration propensities, the simulator and reward labelling."""
import numpy as np
import pytest
from scipy.stats import chisquare

from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy
from policy_learning.rewards import label_conversation, prompt_usefulness
from policy_learning.log_schema import LogError, read_logs, validate_logs
from policy_learning.training import design, split_by_conversation, train_reward_model, training_subset
from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
from music_domain.dialogue_state import ALL_FEATURES, DialogueState, state_features
from music_domain.prompts import N_PROMPTS, PROMPT_NAMES
from simulator.fast_path import conversations_to_frame, simulate


def test_rule_based_script_follows_filled_slots():
    p = RuleBasedPromptPolicy()
    s = DialogueState()
    assert p.choose_prompt(s) == "ask_open"
    s.record_prompt("ask_open")
    assert p.choose_prompt(s) == "ask_energy"
    s.slots["energy"] = "upbeat"
    s.record_prompt("ask_energy")
    assert p.choose_prompt(s) == "suggest_genres"
    s.slots["genre"] = "rock"
    assert p.choose_prompt(s) == "ask_era"
    s.record_prompt("ask_era")
    assert p.choose_prompt(s) == "play_sample"
    s.record_prompt("play_sample")
    s.samples.append(3)
    s.liked_sample = 3
    s.sentiments.append(0.8)
    assert p.choose_prompt(s) == "offer_station"


def test_exploration_propensities_match_choice_frequencies():
    policy = ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=0.3)
    state = DialogueState()
    rng = np.random.default_rng(0)
    n = 20000
    decisions = [policy.choose(state, rng) for _ in range(n)]
    probs = decisions[0].probabilities
    assert all(0 < d.propensity <= 1 for d in decisions)
    assert probs.sum() == pytest.approx(1.0)
    counts = np.bincount([PROMPT_NAMES.index(d.prompt) for d in decisions], minlength=N_PROMPTS)
    assert chisquare(counts, probs * n).pvalue > 0.001
    # the logged propensity is the probability of the prompt actually chosen
    for d in decisions[:50]:
        assert d.propensity == pytest.approx(probs[PROMPT_NAMES.index(d.prompt)])


class _Scores:
    """A reward model stand-in with fixed scores per prompt (the policy's own code decides)."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float64)

    def predict(self, X):
        return np.tile(self.scores, (len(X), 1))


@pytest.mark.parametrize("with_history", [False, True])
def test_a_learned_policy_never_asks_the_same_question_twice_in_a_row(with_history):
    from prompt_policies import LearnedPromptPolicy

    order = ["ask_open", "ask_energy", "ask_era", "play_sample"]  # best first
    scores = np.zeros(N_PROMPTS)
    for rank, prompt in enumerate(order):
        scores[PROMPT_NAMES.index(prompt)] = 10 - rank
    policy = LearnedPromptPolicy(_Scores(scores), with_history)
    state = DialogueState()
    asked = []
    for _ in range(4):  # "Anything in mind?" - "nah": the next question is another one
        prompt = PROMPT_NAMES[int(np.argmax(policy.probabilities(state)))]
        asked.append(prompt)
        state.record_prompt(prompt)
    assert asked == ["ask_open", "ask_energy", "ask_open", "ask_energy"]
    # the same rule on logged state features (what OPE evaluates)
    state, rows = DialogueState(), []
    for prompt in ("ask_open", "ask_energy", "play_sample", "play_sample"):
        rows.append(state_features(state, with_history))
        state.record_prompt(prompt)
    probs = policy.probabilities_batch(np.stack(rows))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert [PROMPT_NAMES[i] for i in probs.argmax(axis=1)] == ["ask_open", "ask_energy", "ask_open", "ask_open"]
    # a genre suggestion may follow another (it names other genres)
    genre_first = np.zeros(N_PROMPTS)
    genre_first[PROMPT_NAMES.index("suggest_genres")] = 1.0
    s3 = DialogueState()
    s3.record_prompt("suggest_genres")
    assert LearnedPromptPolicy(_Scores(genre_first), with_history).probabilities(s3)[
        PROMPT_NAMES.index("suggest_genres")] == 1.0


@pytest.mark.parametrize("with_history", [False, True])
def test_a_learned_policy_answers_a_named_artist_or_song_with_music(with_history):
    """`make shell`: "Could you add some music from Kenny G?" was answered "Anything in mind?" by the
    promoted policy (its learned part). Right after a name a sample can answer, a learned policy
    asks nothing, live and on logged features; without one its best question stands."""
    from prompt_policies import LearnedPromptPolicy
    from prompt_policies.learned import NOT_AFTER_A_NAME

    scores = np.arange(N_PROMPTS, dtype=np.float64)[::-1].copy()  # ask_open best, offer_station last
    policy = LearnedPromptPolicy(_Scores(scores), with_history)
    state = DialogueState()
    assert PROMPT_NAMES[int(np.argmax(policy.probabilities(state)))] == "ask_open"
    for named, best in ((["artist:Kenny G"], "play_sample"), (["work:123"], "play_sample"),
                        (["vein:electronic"], "play_sample"), (["unknown:Zorblat"], "ask_open")):
        state.named = named
        probs = policy.probabilities(state)
        assert PROMPT_NAMES[int(np.argmax(probs))] == best, named
        if best == "play_sample":
            assert all(probs[PROMPT_NAMES.index(p)] == 0 for p in NOT_AFTER_A_NAME)
        X = state_features(state, with_history)[None, :]
        assert np.array_equal(policy.probabilities_batch(X), probs[None, :])
    state.named = ["artist:Kenny G"]
    offer_first = np.zeros(N_PROMPTS)
    offer_first[PROMPT_NAMES.index("offer_station")] = 1.0
    assert LearnedPromptPolicy(_Scores(offer_first), with_history).probabilities(state)[
        PROMPT_NAMES.index("offer_station")] == 1.0


@pytest.mark.parametrize("mode", ["epsilon_greedy", "softmax", "directed"])
def test_exploring_never_repeats_the_question_just_answered(mode):
    """`make shell`: "surprise me" - "Something laid back? Or more upbeat?" - "nope" - "Something laid
    back? Or more upbeat?": the uniform part of the exploration (0.6% a prompt) asked it again. It is
    spread over the prompts a policy may ask there; after a name no question is explored either."""
    from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy
    from prompt_policies.base import NOT_AFTER_A_NAME

    policy = ExplorationPolicy(RuleBasedPromptPolicy(), 0.3, mode)
    state = DialogueState()
    state.asked["ask_open"] = 1
    state.record_prompt("ask_energy")
    p = policy.probabilities(state)
    assert p[PROMPT_NAMES.index("ask_energy")] == 0 and np.isclose(p.sum(), 1.0)
    if mode != "softmax":
        others = [i for i, n in enumerate(PROMPT_NAMES) if n != "ask_energy" and p[i] < 0.5]
        assert np.allclose(p[others], 0.3 / 7)
    state.named = ["artist:Kenny G"]
    p = policy.probabilities(state)
    assert all(p[PROMPT_NAMES.index(q)] == 0 for q in NOT_AFTER_A_NAME) and np.isclose(p.sum(), 1.0)
    assert np.allclose(policy.probabilities_batch(state_features(state, False)[None, :])[0], p)


def test_surprise_me_as_the_first_words_answers_the_open_question(assets):
    """`make shell`: "surprise me" was answered with "Anything in mind?"."""
    engine, rules = MusicDialogueEngine(assets, use_history=False), RuleBasedPromptPolicy()
    state = DialogueState()
    engine.apply_user(state, UserMeaning("surprise_me", {}, 0.0))
    assert rules.choose_prompt(state) == "ask_energy"
    # said in reply to the open question (as simulated listeners say it), nothing changes
    state = DialogueState()
    state.record_prompt("ask_open")
    engine.apply_user(state, UserMeaning("surprise_me", {}, 0.0))
    assert state.asked["ask_open"] == 1 and rules.choose_prompt(state) == "ask_energy"


def test_exploration_rejects_bad_rates():
    with pytest.raises(ValueError):
        ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=1.5)


def test_engine_applies_a_genre_choice_and_sample_feedback(assets):
    eng = MusicDialogueEngine(assets, use_history=False)
    s = DialogueState()
    pair = eng.suggest_genres(s)
    s.record_prompt("suggest_genres")
    assert len(pair) == 2 and pair[0] != pair[1]
    eng.apply_user(s, UserMeaning("choose_option", {}, 0.2, choice=1))
    assert s.slots["genre"] == pair[1]
    row = eng.pick_sample(s)
    s.record_prompt("play_sample")
    assert assets.arrays.columns["genre"][row] == pair[1]
    eng.apply_user(s, UserMeaning("deny", {}, -0.6))
    assert s.rejected == [row] and s.liked_sample is None


def test_an_excluded_genre_is_never_suggested_again(assets):
    """"no more rock", then the genre question: rock is not one of the two offered, however
    often the suggestions come round."""
    eng = MusicDialogueEngine(assets, use_history=False)
    s = DialogueState()
    first = eng.suggest_genres(s)
    s.record_prompt("suggest_genres")
    eng.apply_user(s, UserMeaning("request_music", {}, critiques=[f"exclude_genre:{first[0]}"]))
    assert first[0] in s.directions.excluded
    offered = []
    for _ in range(12):  # more rounds than there are families: the fallback re-offers, never rock
        offered += eng.suggest_genres(s)
    assert first[0] not in offered and len(set(offered)) > 2


def test_a_declined_station_is_not_offered_again(assets):
    from music_domain.tracker_replay import apply_event

    eng = MusicDialogueEngine(assets, use_history=False)
    s = DialogueState()
    eng.apply_user(s, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = eng.station(s)
    s.record_prompt("offer_station")
    assert s.station == first and len(first) > 3
    eng.apply_user(s, UserMeaning("deny", {}, -0.3))
    assert set(first[:3]) <= set(s.rejected) and s.station == [] and s.negative_streak == 1
    second = eng.station(s)
    assert second[0] not in first[:3] and second != first
    # The Rasa path rebuilds the offered station from the action server's slot.
    r = DialogueState()
    ids = [assets.track(row)["track_id"] for row in second]
    r, _ = apply_event(r, {"event": "slot", "name": "station", "value": ids}, eng)
    assert r.station == second


def test_only_new_attribute_values_count_as_elicited(assets):
    eng = MusicDialogueEngine(assets, use_history=False)
    s = DialogueState()
    s.record_prompt("ask_open")
    assert eng.apply_user(s, UserMeaning("request_music", {"genre": "rock", "energy": "upbeat"}, 0.1)) == \
        {"genre": "rock", "energy": "upbeat"}
    s.record_prompt("ask_open")
    assert eng.apply_user(s, UserMeaning("request_music", {"genre": "rock"}, 0.1)) == {}
    assert eng.apply_user(s, UserMeaning("request_music", {"genre": "rock", "energy": "laid_back"}, 0.1)) == \
        {"energy": "laid_back"}
    row = int(np.flatnonzero(assets.arrays.mask(s.slots))[0])
    decisions = [{"prompt": "ask_open", "elicited": {}}, {"prompt": "ask_open", "elicited": {"energy": "laid_back"}}]
    assert list(label_conversation(assets.arrays, decisions, "accepted", row)) == [0, 1]


def test_negative_streak_counts_reactions_until_a_liked_one(assets):
    eng = MusicDialogueEngine(assets, use_history=False)
    s = DialogueState()
    for prompt, sentiment, streak in (("play_sample", -0.5, 1), ("ask_era", -0.05, 1), ("play_sample", -0.2, 2),
                                      ("play_sample", 0.1, 2), ("play_sample", 0.8, 0)):
        if prompt == "play_sample":
            eng.pick_sample(s)
        s.record_prompt(prompt)
        eng.apply_user(s, UserMeaning("deny" if sentiment < 0 else "affirm", {}, sentiment))
        assert s.negative_streak == streak, (prompt, sentiment)
    names = list(ALL_FEATURES)
    assert state_features(s)[names.index("negative_streak")] == 0.0

def test_prompt_usefulness_reward(assets):
    arrays = assets.arrays
    row = int(np.flatnonzero(arrays.mask({"genre": "rock", "energy": "upbeat"}))[0])
    assert prompt_usefulness(arrays, "ask_energy", {"energy": "upbeat"}, True, row) == 1
    assert prompt_usefulness(arrays, "ask_energy", {"energy": "laid_back"}, True, row) == 0
    assert prompt_usefulness(arrays, "ask_energy", {"energy": "upbeat"}, False, row) == 0
    assert prompt_usefulness(arrays, "ask_era", {}, True, row) == 0  # elicited nothing
    assert prompt_usefulness(arrays, "offer_station", {}, True, row, led_to_acceptance=True) == 1
    decisions = [{"prompt": "play_sample", "elicited": {}, "sample_row": row}]
    assert list(label_conversation(arrays, decisions, "accepted", row)) == [1]
    assert list(label_conversation(arrays, decisions, "abandoned", None)) == [0]


@pytest.fixture(scope="module")
def simulated(assets):
    return simulate(assets, ExplorationPolicy(RuleBasedPromptPolicy(), 0.3), 400, seed=3, history_share=0.5)


def test_simulator_outcomes_and_determinism(assets, simulated):
    outcomes = {c.outcome for c in simulated}
    assert outcomes <= {"accepted", "abandoned"} and len(outcomes) == 2
    success = np.mean([c.success for c in simulated])
    assert 0.3 < success < 0.95
    assert all(c.turns >= 2 for c in simulated)
    again = simulate(assets, ExplorationPolicy(RuleBasedPromptPolicy(), 0.3), 20, seed=3, history_share=0.5)
    assert [c.outcome for c in again] == [c.outcome for c in simulated[:20]]
    assert [d["prompt"] for d in again[5].decisions] == [d["prompt"] for d in simulated[5].decisions]


def test_log_frame_and_reward_model(assets, simulated):
    frame = conversations_to_frame(assets, simulated)
    assert set(frame["reward"].unique()) == {0, 1}
    assert (frame["propensity"] > 0).all() and (frame["propensity"] <= 1).all()
    assert len(frame["features"].iloc[0]) == len(ALL_FEATURES)
    assert not frame["user_hash"].str.startswith("user-").any()  # no raw ids in logs
    # the reward model ranks held-out decisions by usefulness far better than chance
    from sklearn.metrics import roc_auc_score

    train, test = split_by_conversation(frame, 0.3, seed=0)
    model = train_reward_model(train, with_history=True)
    X, actions, rewards = design(test, True)
    scores = model.predict(X)
    assert scores.shape == (len(test), N_PROMPTS)
    assert roc_auc_score(rewards, scores[np.arange(len(test)), actions]) > 0.6  # 0.5: chance
    # and it has learned that an unanswerable question is useless: after a liked sample,
    # a station offer beats asking the open question again
    s = DialogueState(sentiments=[0.1, 0.8], liked_sample=3, samples=[3])
    for p in ("ask_open", "ask_energy", "play_sample"):
        s.record_prompt(p)
    pred = model.predict(state_features(s, True)[None, :])[0]
    assert pred[PROMPT_NAMES.index("offer_station")] > pred[PROMPT_NAMES.index("ask_open")]


def test_bad_logs_are_rejected_with_reason(assets, simulated):
    frame = conversations_to_frame(assets, simulated[:30])
    with pytest.raises(LogError, match="no logged decisions"):
        validate_logs(frame.iloc[:0])
    broken = frame.copy()
    broken.loc[3, "propensity"] = 0.0
    with pytest.raises(LogError, match="propensity.*" + broken.loc[3, "conversation_id"]):
        validate_logs(broken)
    with pytest.raises(LogError, match="missing column"):
        validate_logs(frame.drop(columns=["reward"]))


def test_deployment_gate_writes_a_consistent_report(assets, simulated, tmp_path):
    from policy_learning.gate import run_gate

    logs_path = tmp_path / "logs.parquet"
    conversations_to_frame(assets, simulated).to_parquet(logs_path)
    report = run_gate(logs_path, "learned_history", out=tmp_path / "gate",
                      n_bootstrap=50)
    # The gate trains on 70% of the conversations and evaluates on the other 30%: recomputed
    # here from the same split, the candidate's and the rule-based policy's estimates agree.
    from policy_learning.ope.from_logs import LoggedStatesPolicy, conversation_success, greedy_logging_dist
    from prompt_policies import LearnedPromptPolicy

    logs = training_subset(read_logs(logs_path), True)
    train, test = split_by_conversation(logs, seed=0)
    assert report["test_conversations"] == test["conversation_id"].nunique() == int(0.3 * logs["conversation_id"].nunique())
    candidate = LearnedPromptPolicy(train_reward_model(train, True, seed=0), True)
    cand_report = conversation_success(test, True, candidate, n_bootstrap=50)
    cand = cand_report.get("SeqDR")
    cur = conversation_success(test, True, LoggedStatesPolicy(greedy_logging_dist(test)), n_bootstrap=50).get("SeqDR")
    got = {e["estimator"]: e for e in report["candidate_success"]["estimates"]}["SeqDR"]
    assert (got["value"], got["ci_low"], got["ci_high"]) == pytest.approx((cand.value, cand.ci_low, cand.ci_high))
    got_cur = {e["estimator"]: e for e in report["current_success"]["estimates"]}["SeqDR"]
    assert got_cur["value"] == pytest.approx(cur.value)
    # the rule-based policy's estimate is close to its simulated success on these listeners (which
    # mixes in 30% exploration, so the greedy policy's interval need only come near it)
    rule_success = np.mean([c.success for c in simulated])
    assert cur.ci_low - 0.05 <= rule_success <= cur.ci_high + 0.05
    # promoted only on the one-sided HCOPE bound, and only when the overlap diagnostics allow it
    assert report["gate_lower_bound"] == cand_report.lower_bounds["hcope"]
    assert report["promoted"] == (cand_report.reliable and cand_report.lower_bounds["hcope"]["lower_bound"] > cur.value)
    assert 0.0 <= cand.ci_low <= cand.ci_high <= 1.0
    gate_md = (tmp_path / "gate" / "gate_report.md").read_text()
    assert ("PROMOTED" if report["promoted"] else "REFUSED") in gate_md
    assert "| current (the logging policy, greedy) | SeqDR |" in gate_md
    assert (tmp_path / "gate" / "gate_estimates.png").stat().st_size > 0
    assert (tmp_path / "deployed.pkl").exists() == report["promoted"]
    with pytest.raises(LogError, match="no logs"):
        run_gate(tmp_path / "missing.parquet", "learned", out=tmp_path / "gate2")
