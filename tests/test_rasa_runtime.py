"""The compiled validator for action server responses behaves as Rasa's own."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.utils.endpoints import EndpointConfig

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource

from custom_policies.rasa_policy import PromptSelectionPolicy
from rasa_runtime.action_response_validation import validate_action_result

GOOD = {"events": [{"event": "slot", "name": "genre", "value": "rock"}],
        "responses": [{"text": "How about this?", "custom": {"track_id": "t1"}}]}
BAD = [{"events": "not a list"}, {"events": [{"event": "no_such_event"}]}, {"responses": [42]},
       ["not", "an", "object"]]


@pytest.fixture(scope="module", autouse=True)
def policy_built(tmp_path_factory):
    """Build the policy as loading a model does (that, not an import, installs the fix)."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    return PromptSelectionPolicy.create(PromptSelectionPolicy.get_default_config(), storage, Resource("p"),
                                        ExecutionContext(GraphSchema({}), "test"))


def test_installed_when_the_policy_is_built():
    assert RemoteAction._validate_action_result is validate_action_result


@pytest.mark.parametrize("bad", BAD)
def test_rejects_what_rasa_rejects_with_rasas_message(bad):
    action = RemoteAction("action_play_sample", EndpointConfig("http://127.0.0.1:1/webhook"))
    with pytest.raises(jsonschema.ValidationError) as ours:
        action._validate_action_result(bad)
    assert "Failed to validate Action server response" in ours.value.message
    with pytest.raises(jsonschema.ValidationError):  # the check Rasa makes, done from scratch
        jsonschema.validate(bad, RemoteAction.action_response_format_spec())


def test_accepts_a_valid_response():
    action = RemoteAction("action_play_sample", EndpointConfig("http://127.0.0.1:1/webhook"))
    jsonschema.validate(GOOD, RemoteAction.action_response_format_spec())
    assert action._validate_action_result(GOOD) is True


@pytest.mark.slow  # a fresh interpreter imports Rasa
def test_importing_the_policy_module_changes_nothing_in_rasa():
    import subprocess
    import sys

    code = ("from rasa.core.actions.action import RemoteAction\n"
            "before = RemoteAction._validate_action_result\n"
            "import custom_policies.rasa_policy\n"
            "assert RemoteAction._validate_action_result is before, 'patched at import'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
