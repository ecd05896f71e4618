"""The policy registry, mixture candidates, and the Rasa policy serving a registry version."""
import json
import threading

import numpy as np
import pandas as pd
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from conftest import ROOT
from custom_policies.rasa_policy import PromptSelectionPolicy
from music_domain.dialogue_state import ALL_FEATURES, BASE_FEATURES
from music_domain.prompts import PROMPT_ACTIONS, PROMPT_NAMES
from policy_learning.improve import _spec, candidate
from policy_learning.registry import ArtefactError, PolicyRegistry, RegistryBusy, describe
from policy_learning.training import train_reward_model
from prompt_policies import PROMPT_INDEX, ExplorationPolicy, LearnedPromptPolicy, RuleBasedPromptPolicy
from prompt_policies.base import never_asked
from prompt_policies.mixture import MixturePolicy
from simulator.fast_path import conversations_to_frame, simulate


@pytest.fixture(scope="module")
def logs(assets):
    convs = simulate(assets, ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=0.4), 300, seed=11,
                     history_share=0.5, prefix="registry-test")
    return conversations_to_frame(assets, convs)


@pytest.fixture(scope="module")
def model(logs):
    return train_reward_model(logs, with_history=True, seed=0)


def _registry_with_candidate(tmp_path, model, alpha=0.5):
    reg = PolicyRegistry(tmp_path / "registry")
    assert reg.init() == "v0"
    current = reg.load("current")
    files = {"reward_model_a.txt": model.to_text()}
    version = reg.publish(_spec(current, alpha, "reward_model_a.txt", True), files, parent="v0",
                          exploration={"mode": "epsilon_greedy", "epsilon": 0.05}, training_logs={"sha256": "x"},
                          ope_report={"gate_lower_bound": {"lower_bound": 0.5}})
    return reg, version


def test_rule_based_policy_is_known_on_logged_features(logs):
    """The rules computed from logged features give the logging policy's greedy choice (the
    logs were written by epsilon-greedy exploration around the same rules), with and without
    the history columns."""
    X = np.stack(logs["features"].to_numpy())
    logged_greedy = np.stack(logs["probabilities"].to_numpy()).argmax(axis=1)
    rules = RuleBasedPromptPolicy()
    assert (rules.probabilities_batch(X).argmax(axis=1) == logged_greedy).all()
    assert (rules.probabilities_batch(X[:, :len(BASE_FEATURES)]).argmax(axis=1) == logged_greedy).all()
    with pytest.raises(ValueError, match="features"):
        rules.probabilities_batch(X[:, :5])


def test_mixture_probabilities_are_the_weighted_components(logs, model):
    learned = LearnedPromptPolicy(model, True)
    mix = MixturePolicy([(0.7, RuleBasedPromptPolicy()), (0.3, learned)])
    X = np.stack(logs["features"].to_numpy())[:50]
    p = mix.probabilities_batch(X)
    assert np.allclose(p.sum(axis=1), 1.0)
    assert np.allclose(p, 0.7 * RuleBasedPromptPolicy().probabilities_batch(X) + 0.3 * learned.probabilities_batch(X))
    nested = MixturePolicy([(0.5, mix), (0.5, learned)])  # flattened: 0.35 rules, 0.15 + 0.5 learned
    assert [round(w, 6) for w, _ in nested.components] == [0.35, 0.15, 0.5]
    with pytest.raises(ValueError, match="sum to 1"):
        MixturePolicy([(0.5, learned)])
    with pytest.raises(ValueError, match=">= 0"):
        MixturePolicy([(1.5, learned), (-0.5, mix)])


def test_registry_publish_promote_load_and_rollback(tmp_path, model, logs):
    reg, version = _registry_with_candidate(tmp_path, model)
    assert version == "v1" and reg.current() == "v0"  # published, not yet deployed
    reg.promote(version)
    assert reg.current() == "v1"
    deployed = reg.load("current")
    assert deployed.version == "v1" and deployed.exploration["epsilon"] == 0.05
    m = deployed.manifest
    assert m["parent"] == "v0" and m["feature_schema"]["features"] == list(ALL_FEATURES)
    assert m["training_logs"] == {"sha256": "x"} and m["ope_report"]["gate_lower_bound"]["lower_bound"] == 0.5
    X = np.stack(logs["features"].to_numpy())[:40]
    expected = 0.5 * RuleBasedPromptPolicy().probabilities_batch(X) + 0.5 * LearnedPromptPolicy(model, True).probabilities_batch(X)
    assert np.allclose(deployed.policy.probabilities_batch(X), expected, atol=1e-6)
    # what it logs: the artefact's version, and the propensity of the exploring policy
    live = deployed.with_exploration()
    from music_domain.dialogue_state import DialogueState

    decision = live.choose(DialogueState(), np.random.default_rng(0))
    assert decision.version == "v1" and decision.metadata()["policy_version"] == "v1"
    assert decision.probabilities.min() >= 0.05 / len(PROMPT_NAMES) - 1e-12
    assert reg.rollback() == "v0" and reg.current() == "v0"
    assert [e["action"] for e in reg.pointer_log()] == ["init", "promote", "rollback"]
    reg.promote("v1")
    assert reg.rollback() == "v0"


def test_damaged_or_foreign_artefacts_are_never_loaded(tmp_path, model):
    reg, version = _registry_with_candidate(tmp_path, model)
    model_file = reg.path(version) / "reward_model_a.txt"
    good = model_file.read_bytes()
    model_file.write_bytes(good[:-50])  # truncated
    with pytest.raises(ArtefactError, match="digest.*make rollback"):
        reg.load(version)
    with pytest.raises(ArtefactError):
        reg.promote(version)  # a damaged version never becomes current
    assert reg.current() == "v0"
    model_file.write_bytes(good)
    manifest_path = reg.path(version) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["feature_schema"]["sha256"] = "0" * 64  # trained on features this code doesn't compute
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ArtefactError, match="state features.*make improve"):
        reg.load(version)
    manifest_path.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ArtefactError, match="damaged"):
        reg.load(version)
    manifest_path.unlink()
    with pytest.raises(ArtefactError, match="missing"):
        reg.load(version)
    with pytest.raises(ArtefactError, match="not in the registry"):
        reg.load("v9")
    with pytest.raises(ArtefactError, match="no current version"):
        PolicyRegistry(tmp_path / "empty").load("current")


def test_a_second_writer_waits_then_refuses(tmp_path):
    reg = PolicyRegistry(tmp_path / "registry")
    entered = threading.Event()
    release = threading.Event()

    def hold():
        with reg.lock():
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(10)
    try:
        with pytest.raises(RegistryBusy, match="another process"):
            with PolicyRegistry(tmp_path / "registry").lock(timeout=0.5):
                pass
    finally:
        release.set()
        t.join()
    with reg.lock(timeout=1):  # free again
        pass


# -- the Rasa policy serving a version -------------------------------------------------------
def _config(reg, **overrides):
    return {**PromptSelectionPolicy.get_default_config(), "policy_registry": str(reg.root), "seed": 3, **overrides}


def _trained(config, tmp_path, name="storage"):
    (tmp_path / name).mkdir()
    storage = LocalModelStorage(tmp_path / name)
    resource = Resource("prompt_policy")
    context = ExecutionContext(GraphSchema({}), "test")
    policy = PromptSelectionPolicy.create(config, storage, resource, context)
    policy.train([], Domain.load(str(ROOT / "domain.yml")))
    return PromptSelectionPolicy.load(config, storage, resource, context)


def _tracker():
    return DialogueStateTracker.from_events("registry-test", [
        ActionExecuted("action_listen"),
        UserUttered("some upbeat rock", intent={"name": "request_music", "confidence": 0.95},
                    entities=[{"entity": "genre", "value": "rock"}, {"entity": "energy", "value": "upbeat"}])])


def test_rasa_policy_serves_the_current_version_from_model_storage(tmp_path, model):
    reg, version = _registry_with_candidate(tmp_path, model, alpha=1.0)
    before = PromptSelectionPolicy.fingerprint_addon(_config(reg))
    reg.promote(version)
    after = PromptSelectionPolicy.fingerprint_addon(_config(reg))
    assert before.startswith("v0:") and after.startswith("v1:")  # rasa train retrains on a promotion
    policy = _trained(_config(reg, epsilon=0.0), tmp_path)
    # the trained model holds its own copy: the registry can move on without changing it
    reg.rollback()
    assert policy.version == "v1"
    domain = Domain.load(str(ROOT / "domain.yml"))
    prediction = policy.predict_action_probabilities(_tracker(), domain)
    action = domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
    meta = prediction.action_metadata["prompt_policy"]
    features = np.asarray(meta["features"], dtype=np.float32)[None, :]
    assert action == PROMPT_ACTIONS[int(np.argmax(model.predict(features)[0]))]
    assert meta["policy_version"] == "v1" and meta["propensity"] == 1.0
    # with the artefact's own exploration (5%), every prompt keeps a logged propensity > 0
    exploring = _trained(_config(reg, policy_version="v1"), tmp_path, "storage2")
    meta = exploring.predict_action_probabilities(_tracker(), domain).action_metadata["prompt_policy"]
    assert min(meta["probabilities"]) == pytest.approx(0.05 / len(PROMPT_NAMES), rel=1e-6)


def test_rasa_policy_refuses_a_damaged_or_missing_artefact(tmp_path, model):
    reg, version = _registry_with_candidate(tmp_path, model)
    (reg.path(version) / "reward_model_a.txt").write_text("garbage")
    with pytest.raises(RasaException, match="cannot serve policy_version 'v1'.*digest"):
        _trained(_config(reg, policy_version=version), tmp_path)
    with pytest.raises(RasaException, match="not in the registry"):
        _trained(_config(reg, policy_version="v7"), tmp_path, "s2")
    # the built-in baseline needs no registry
    policy = _trained(_config(reg, policy_version="rule_based", policy_registry=str(tmp_path / "none")), tmp_path, "s3")
    domain = Domain.load(str(ROOT / "domain.yml"))
    meta = policy.predict_action_probabilities(_tracker(), domain).action_metadata["prompt_policy"]
    assert meta["policy_version"] == "rule_based" and meta["policy"] == "rule_based"


def test_logs_of_several_versions_get_the_mixture_propensities(tmp_path, assets, logs, model):
    """Logs of the rule-based policy (epsilon 0.4) and of a promoted version (its own 5%
    exploration) are one logging process: each decision's propensity is the loggers' mixture
    weighted by how likely each logger is given the conversation so far, so a conversation's
    product of propensities is its probability under the mixture of loggers."""
    from policy_learning.loggers import mixture_propensities, rebuild_logger

    reg, version = _registry_with_candidate(tmp_path, model)
    deployed = reg.load(version).with_exploration()
    second = conversations_to_frame(assets, simulate(assets, deployed, 120, seed=12, history_share=0.5,
                                                     prefix="registry-test-v1"))
    assert set(second["policy_version"]) == {version}
    same, note = mixture_propensities(logs, reg)
    assert same is logs and "one logging policy" in note
    both = pd.concat([logs, second], ignore_index=True)
    mixed, note = mixture_propensities(both, reg)
    assert "2 logging policies" in note, note
    probs = np.stack(mixed["probabilities"].to_numpy())
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(mixed["propensity"], probs[np.arange(len(mixed)), mixed["prompt"].map(PROMPT_INDEX)])
    # the product over a conversation = sum_k w_k prod_t mu_k(a_t | s_t)
    loggers = {k: rebuild_logger(*k, registry=reg) for k in [(logs["policy"].iloc[0], logs["policy_version"].iloc[0]),
                                                             (deployed.name, version)]}
    n_conv = {k: both[(both["policy"] == k[0]) & (both["policy_version"] == k[1])]["conversation_id"].nunique()
              for k in loggers}
    total = sum(n_conv.values())
    for cid in [logs["conversation_id"].iloc[0], second["conversation_id"].iloc[-1]]:
        rows = mixed[mixed["conversation_id"] == cid].sort_values("turn")
        X = np.stack(rows["features"].to_numpy())
        a = rows["prompt"].map(PROMPT_INDEX).to_numpy()
        expected = sum(n_conv[k] / total * np.prod(_probs(lg, X)[np.arange(len(a)), a]) for k, lg in loggers.items())
        assert np.prod(rows["propensity"].to_numpy()) == pytest.approx(expected, rel=1e-4)
    # a logger that cannot be rebuilt leaves the logs as they were, and says why
    odd = second.assign(policy="something_else")
    kept, note = mixture_propensities(pd.concat([logs, odd], ignore_index=True), reg)
    assert "cannot be rebuilt" in note and np.allclose(kept["propensity"], pd.concat([logs, odd])["propensity"])


def test_the_history_arm_is_weighted_by_the_loggers_of_its_own_conversations(tmp_path, assets, logs, model):
    """Once listening history arrives, the history arm learns from the later rounds' logs only;
    their propensities are those of the process that logged them, not a mixture that also counts
    the earlier loggers, which never wrote a conversation with history (on `make rounds`' logs
    before round 4 that mixture made PDIS say 1.000 against a truth of 0.859)."""
    from policy_learning.improve import arm_propensities
    from policy_learning.loggers import mixture_propensities

    reg, version = _registry_with_candidate(tmp_path, model)
    deployed = reg.load(version).with_exploration()
    later = conversations_to_frame(assets, simulate(assets, deployed, 60, seed=13, history_share=1.0,
                                                    prefix="registry-test-later"))
    earlier = logs.assign(history_used=False)
    later = later.assign(history_used=True)
    both = pd.concat([earlier, later], ignore_index=True)
    pooled, note = mixture_propensities(both, reg)
    assert "2 logging policies" in note
    arm, note = arm_propensities(both, reg, with_history=True)
    assert "one logging policy" in note and set(arm["conversation_id"]) == set(later["conversation_id"])
    assert np.allclose(arm["propensity"], later["propensity"])
    pooled_arm = pooled[pooled["history_used"]]
    assert not np.allclose(pooled_arm["propensity"].to_numpy(), later["propensity"].to_numpy())
    arm, _ = arm_propensities(both, reg, with_history=False)
    assert set(arm["conversation_id"]) == set(earlier["conversation_id"])
    assert np.allclose(arm["propensity"], earlier["propensity"])


def _probs(policy, X):
    from prompt_policies.mixture import _batch

    return _batch(policy, X)


def test_directed_exploration_spends_half_its_budget_on_the_newest_learned_choice(tmp_path, assets, model):
    """Directed exploration: (1 - eps) * deployed + eps * (0.5 * newest learned + 0.5 / N). The
    logged propensities are the ones rebuilt from the artefact on the logged states (what OPE
    and the logger mixture use), every prompt a policy may ask there keeps at least eps / (2N)
    (`never_asked`: none is the question just answered or a question after a name), and around
    the rules (nothing learned) it is epsilon-greedy."""
    from policy_learning.loggers import rebuild_logger
    from prompt_policies.exploration import guide_of

    eps, n = 0.2, len(PROMPT_NAMES)
    reg = PolicyRegistry(tmp_path / "registry")
    reg.init({"mode": "directed", "epsilon": eps})
    current = reg.load("current")
    rules = current.with_exploration()
    assert rules.guide is None
    X = np.random.default_rng(0).random((50, len(ALL_FEATURES))).astype(np.float32)
    assert np.allclose(_probs(rules, X), _probs(ExplorationPolicy(RuleBasedPromptPolicy(), eps), X))
    version = reg.publish(_spec(current, 0.25, "reward_model_a.txt", True), {"reward_model_a.txt": model.to_text()},
                          parent="v0", exploration={"mode": "directed", "epsilon": eps},
                          training_logs={"sha256": "x"}, ope_report={})
    deployed = reg.load(version)
    explored = deployed.with_exploration()
    assert explored.mode == "directed" and explored.name.endswith("+directed(0.2)")
    learned = guide_of(deployed.policy)
    assert isinstance(learned, LearnedPromptPolicy)
    convs = simulate(assets, explored, 80, seed=21, history_share=1.0, prefix="directed")
    frame = conversations_to_frame(assets, convs)
    Xl = np.stack(frame["features"].to_numpy()).astype(np.float32)
    logged = np.stack(frame["probabilities"].to_numpy())
    rebuilt = _probs(rebuild_logger(explored.name, version, registry=reg), Xl)
    assert np.abs(rebuilt - logged).max() < 1e-5
    base, guide = _probs(deployed.policy, Xl), _probs(learned, Xl)
    allowed = ~never_asked(Xl)  # no repeat of the question just answered, no question after a name
    assert (~allowed).any() and (logged[~allowed] == 0).all()
    k = allowed.sum(axis=1, keepdims=True)
    assert np.allclose(logged, (1 - eps) * base + eps * 0.5 * guide + eps * 0.5 * allowed / k, atol=1e-5)
    assert np.where(allowed, logged, 1.0).min() >= eps * 0.5 / n - 1e-7
    # the learned choice gets more than uniform exploration would give it
    uniform = (1 - eps) * base + eps / n
    rows = np.arange(len(Xl))
    choice = guide.argmax(axis=1)
    assert (logged[rows, choice] >= uniform[rows, choice] + eps * (0.5 - 0.5 / n) - 1e-6).all()
    with pytest.raises(ValueError, match="exploration mode"):
        ExplorationPolicy(RuleBasedPromptPolicy(), 0.1, "sideways")
    with pytest.raises(ValueError, match="exploration mode"):
        reg.publish(_spec(current, 0.25, "m.txt", True), {"m.txt": model.to_text()}, parent="v0",
                    exploration={"mode": "sideways", "epsilon": 0.1}, training_logs={}, ope_report={})


def test_the_rule_based_v0_explores_more_and_hands_the_default_on(tmp_path, logs):
    """Cold start: v0 explores at COLD_START_EPSILON, since its logs are all the support the first
    candidate gets; the first promoted version (and, through it, every later one) explores at
    the default rate; an explicit exploration is kept; a malformed hand-over is refused."""
    from policy_learning.registry import (COLD_START_EPSILON, DEFAULT_EXPLORATION, cold_start_exploration,
                                          successor_exploration)

    reg = PolicyRegistry(tmp_path / "registry")
    reg.init()
    v0 = reg.load("current")
    assert v0.exploration["epsilon"] == COLD_START_EPSILON > DEFAULT_EXPLORATION["epsilon"]
    X = np.stack(logs["features"].to_numpy())[:40].astype(np.float32)
    served = v0.with_exploration().probabilities_batch(X)
    allowed = ~never_asked(X)  # the uniform part covers the prompts a policy may ask there
    assert (served[~allowed] == 0).all() and (~allowed).any()
    assert np.allclose(np.where(allowed, served, 1.0).min(axis=1), COLD_START_EPSILON / allowed.sum(axis=1))
    first = successor_exploration(v0.exploration)
    assert first == DEFAULT_EXPLORATION and successor_exploration(first) == first
    assert "v0" in describe(reg) and f"{COLD_START_EPSILON} (then {DEFAULT_EXPLORATION['epsilon']})" in describe(reg)
    assert cold_start_exploration("softmax", 0.05, None) == {"mode": "softmax", "epsilon": 0.05}
    assert cold_start_exploration("directed", 0.1, 0.1) == {"mode": "directed", "epsilon": 0.1}
    assert cold_start_exploration("directed", 0.3) == {"mode": "directed", "epsilon": 0.3}  # never less
    for bad in ({}, None):
        with pytest.raises(ValueError, match="after_promotion"):
            PolicyRegistry(tmp_path / f"bad{bad}").init({"mode": "directed", "epsilon": 0.2, "after_promotion": bad})
    with pytest.raises(ValueError, match="epsilon"):
        PolicyRegistry(tmp_path / "other").init({"mode": "directed", "epsilon": 0.2,
                                                 "after_promotion": {"mode": "directed", "epsilon": 2}})
    with pytest.raises(ValueError, match="mapping"):
        PolicyRegistry(tmp_path / "third").init({"mode": "directed", "epsilon": 0.2, "after_promotion": [0.1]})
    with pytest.raises(ValueError, match="mapping"):
        PolicyRegistry(tmp_path / "fourth").init(["directed", 0.2])


def test_a_reply_other_than_yes_to_dropping_a_constraint_lets_the_offer_lapse(tmp_path):
    """A pending "Shall I drop the era?" answered with anything the prompt policy handles (a yes
    goes to the relax rule) is cleared with the next prompt, so a later yes to a station offer
    starts the station instead of dropping the era (rasa_project/data/rules.yml)."""
    reg = PolicyRegistry(tmp_path / "registry")
    policy = _trained(_config(reg, policy_version="rule_based", policy_registry=str(tmp_path / "none")), tmp_path)
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = _tracker()
    first = policy.predict_action_probabilities(tracker, domain)
    assert "pending_relax" not in [e.key for e in first.events + first.optional_events]
    tracker.update(SlotSet("pending_relax", "era"))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("no, the 2010s then", intent={"name": "request_music", "confidence": 0.95},
                               entities=[{"entity": "era", "value": "2010s"}]))
    prediction = policy.predict_action_probabilities(tracker, domain)
    assert [(e.key, e.value) for e in prediction.optional_events] == [("pending_relax", None)]
    # only if this policy's prompt is taken: the events applied whoever wins must not clear it, or
    # a yes to "Shall I drop the era?" reaches the relax rule with nothing to drop (found by the
    # fresh-clone test_three_conversations_reach_an_accepted_station)
    assert "pending_relax" not in [e.key for e in prediction.events]
