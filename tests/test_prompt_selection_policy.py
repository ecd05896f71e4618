"""The Rasa policy in ``learned`` mode: trained from logged Parquet, predicts the reward
model's best prompt, listens after it, and retrains when its data changes."""
import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from conftest import ROOT
from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy
from custom_policies.rasa_policy import PromptSelectionPolicy
from music_domain.dialogue_state import BASE_FEATURES
from music_domain.prompts import PROMPT_ACTIONS
from simulator.fast_path import conversations_to_frame, simulate


@pytest.fixture(scope="module")
def logs_path(assets, tmp_path_factory):
    convs = simulate(assets, ExplorationPolicy(RuleBasedPromptPolicy(), epsilon=0.5), 400, seed=5,
                     history_share=0.5, prefix="policy-test")
    path = tmp_path_factory.mktemp("logs") / "logs.parquet"
    conversations_to_frame(assets, convs).to_parquet(path, index=False)
    return path


def _config(logs_path, **overrides):
    return {**PromptSelectionPolicy.get_default_config(), "mode": "learned", "training_data": str(logs_path),
            "use_history": False, **overrides}


def _trained(config, tmp_path):
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("prompt_policy")
    context = ExecutionContext(GraphSchema({}), "test")
    policy = PromptSelectionPolicy.create(config, storage, resource, context)
    policy.train([], Domain.load(str(ROOT / "domain.yml")))
    return PromptSelectionPolicy.load(config, storage, resource, context)


def _tracker(*events):
    return DialogueStateTracker.from_events("policy-test", [ActionExecuted("action_listen"), *events])


def _message(text, intent, entities=()):
    return UserUttered(text, intent={"name": intent, "confidence": 0.95}, entities=list(entities))


def test_learned_mode_predicts_the_reward_models_best_prompt_then_listens(logs_path, tmp_path):
    policy = _trained(_config(logs_path), tmp_path)
    domain = Domain.load(str(ROOT / "domain.yml"))
    tracker = _tracker(_message("some upbeat rock", "request_music",
                                [{"entity": "genre", "value": "rock"}, {"entity": "energy", "value": "upbeat"}]))
    prediction = policy.predict_action_probabilities(tracker, domain)
    action = domain.action_names_or_texts[int(np.argmax(prediction.probabilities))]
    meta = prediction.action_metadata["prompt_policy"]
    features = np.asarray(meta["features"][:len(BASE_FEATURES)], dtype=np.float32)[None, :]
    expected = PROMPT_ACTIONS[int(np.argmax(policy.reward_model.predict(features)[0]))]
    assert action == expected and meta["policy"] == "learned" and meta["propensity"] == 1.0
    assert features[0, list(BASE_FEATURES).index("filled_genre")] == 1.0
    # the action server is told the history setting (False in this config) with the prediction
    assert [e.value for e in prediction.events if e.key == "history_in_use"] == [False]

    tracker.update(ActionExecuted(action))
    tracker.update(BotUttered("How about this?"))  # what the action server answered
    after = policy.predict_action_probabilities(tracker, domain)
    assert domain.action_names_or_texts[int(np.argmax(after.probabilities))] == "action_listen"


def test_fingerprint_changes_with_the_logged_data(logs_path, tmp_path):
    copy = tmp_path / "logs.parquet"
    copy.write_bytes(logs_path.read_bytes())
    first = PromptSelectionPolicy.fingerprint_addon(_config(copy))
    assert first == PromptSelectionPolicy.fingerprint_addon(_config(copy))
    copy.write_bytes(logs_path.read_bytes() + b"\0")
    assert PromptSelectionPolicy.fingerprint_addon(_config(copy)) != first
    assert PromptSelectionPolicy.fingerprint_addon(_config(copy, mode="rule_based")) is None


def test_learned_mode_without_logs_or_model_gets_a_clear_error(tmp_path):
    with pytest.raises(RasaException, match="needs logged conversations"):
        _trained(_config(tmp_path / "missing.parquet"), tmp_path)
    storage = LocalModelStorage(tmp_path / "empty")
    with pytest.raises(RasaException, match="no trained reward model"):
        PromptSelectionPolicy.load(_config(tmp_path / "x.parquet"), storage, Resource("p"),
                                   ExecutionContext(GraphSchema({}), "test"))
