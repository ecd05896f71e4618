"""``PromptSelectionPolicy``: the Rasa 3.6 policy that picks the next prompt.

At each system turn after a listener's message it builds the ``DialogueState`` (by
replaying the tracker's events), scores the prompts with the configured prompt policy
(``rule_based``, or ``learned``: the reward model trained offline on the logged Parquet
data at ``training_data``), optionally explores (``exploration``/``epsilon``), and
predicts the prompt's action. After its prompt it predicts ``action_listen``. Rules
(greetings, stop, accepting a station) win through ``RulePolicy``'s higher priority.

Every prediction carries, in ``PolicyPrediction.action_metadata`` (stored with the
``ActionExecuted`` event in the tracker store): the candidate prompts, their
probabilities, the chosen prompt's propensity, the policy name and version, and the
dialogue-state features.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException

from music_domain.attributes import ATTRIBUTES
from music_domain.prompts import PROMPT_ACTIONS
from rasa_runtime import action_response_validation, request_validation

logger = logging.getLogger(__name__)

DIALOGUE_INTENTS = {"request_music", "affirm", "deny", "choose_option", "surprise_me", "dont_know"}
SERVER_DOWN_RESPONSE = "utter_action_server_down"
MODEL_FILE = "reward_model.pkl"
CONFIRM_ACTION, FORGET_ACTION = "action_confirm_heard", "action_forget_heard"
CONFIRMABLE = set(ATTRIBUTES)
HISTORY_SLOT = "history_in_use"


def _file_digest(path: Optional[str]) -> str:
    if not path or not Path(path).exists():
        return "missing"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class PromptSelectionPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 2,
            "mode": "rule_based",  # rule_based | learned
            "training_data": "data/logs/simulated.parquet",
            "use_history": True,
            "exploration": "epsilon_greedy",  # epsilon_greedy | softmax
            "epsilon": 0.0,
            "assets_dir": None,
            "seed": None,
            # voice: below this speech-recognition confidence, heard attributes are confirmed first
            "asr_confirm_below": 0.6,
        }

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Changes when the logged training data changes, so `rasa train` retrains."""
        if config.get("mode") != "learned":
            return None
        return _file_digest(config.get("training_data"))

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, reward_model=None) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        # The server-side fixes (``rasa_runtime``) go in when the policy is built for a model,
        # not as a side effect of importing this module.
        action_response_validation.install()
        request_validation.install()
        self.reward_model = reward_model
        self._prompt_policy = None
        self._engine = None
        self._rng = np.random.default_rng(config.get("seed"))

    # -- training --------------------------------------------------------------------
    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        if self.config["mode"] == "learned":
            from policy_learning.training import train_reward_model

            path = self.config["training_data"]
            if not path or not Path(path).exists():
                raise RasaException(
                    f"PromptSelectionPolicy(mode=learned) needs logged conversations at '{path}'; "
                    f"create them with `python -m simulator.fast_path` or export them with "
                    f"`python -m policy_learning.log_export`.")
            self.reward_model = train_reward_model(path, with_history=self.config["use_history"])
        with self._model_storage.write_to(self._resource) as d:
            if self.reward_model is not None:
                self.reward_model.save(Path(d) / MODEL_FILE)
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PromptSelectionPolicy":
        from policy_learning.reward_model import RewardModel

        model = None
        try:
            with model_storage.read_from(resource) as d:
                if (Path(d) / MODEL_FILE).exists():
                    model = RewardModel.load(Path(d) / MODEL_FILE)
        except ValueError:
            pass
        if config.get("mode") == "learned" and model is None:
            raise RasaException("PromptSelectionPolicy(mode=learned) has no trained reward model; run `rasa train`.")
        return cls(config, model_storage, resource, execution_context, reward_model=model)

    # -- prediction ------------------------------------------------------------------
    @property
    def engine(self):
        if self._engine is None:
            from embeddings.assets import load_assets
            from music_domain.dialogue_engine import MusicDialogueEngine

            self._engine = MusicDialogueEngine(load_assets(self.config.get("assets_dir")),
                                               use_history=self.config["use_history"])
        return self._engine

    @property
    def prompt_policy(self):
        if self._prompt_policy is None:
            from prompt_policies.learned import LearnedPromptPolicy
            from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy

            if self.config["mode"] == "learned":
                base = LearnedPromptPolicy(self.reward_model, with_history=self.config["use_history"])
            elif self.config["mode"] == "rule_based":
                base = RuleBasedPromptPolicy()
            else:
                raise RasaException(f"unknown PromptSelectionPolicy mode {self.config['mode']!r}")
            eps = float(self.config.get("epsilon") or 0.0)
            self._prompt_policy = ExplorationPolicy(base, eps, self.config["exploration"]) if eps > 0 else base
        return self._prompt_policy

    def _one_hot(self, domain: Domain, action: str, confidence: float = 1.0) -> List[float]:
        probs = self._default_predictions(domain)
        probs[domain.index_for_action(action)] = confidence
        return probs

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        if _custom_action_failed(tracker, domain):
            return self._prediction(self._one_hot(domain, SERVER_DOWN_RESPONSE))
        if tracker.latest_action_name != ACTION_LISTEN_NAME:
            return self._prediction(self._one_hot(domain, ACTION_LISTEN_NAME))
        intent = (tracker.latest_message.intent or {}).get("name") if tracker.latest_message else None
        if intent not in DIALOGUE_INTENTS:
            # Not a dialogue move this policy handles; leave it to the rules (low confidence).
            return self._prediction(self._default_predictions(domain))
        from music_domain.tracker_replay import state_from_events
        from music_domain.dialogue_state import state_features
        from music_domain.empathy import state_closeness

        state = state_from_events((e.as_dict() for e in tracker.applied_events()), tracker.sender_id, self.engine)
        self.engine.refresh_candidates(state)
        parse = tracker.latest_message.parse_data if tracker.latest_message else {}
        asr = parse.get("asr_confidence")
        empathy = state_closeness(state, asr)
        # The tone for whatever is said next (response variations conditioned on the band).
        events = [SlotSet("empathy_score", round(empathy.score, 4)), SlotSet("closeness_band", empathy.band),
                  # the action server's sample retrieval follows this policy's history setting
                  SlotSet(HISTORY_SLOT, bool(self.config["use_history"]))]
        confirm = self._confirmation(tracker, intent, parse, asr)
        if confirm:
            return self._prediction(self._one_hot(domain, confirm), events=events,
                                    action_metadata={"empathy": empathy.as_dict()})
        decision = self.prompt_policy.choose(state, self._rng if float(self.config.get("epsilon") or 0) > 0 else None)
        action = PROMPT_ACTIONS[[p for p in decision.metadata()["candidates"]].index(decision.prompt)]
        meta = decision.metadata()
        meta["features"] = [float(x) for x in state_features(state, with_history=True)]
        meta["turn"] = state.turn + 1
        return self._prediction(self._one_hot(domain, action), events=events,
                                action_metadata={"prompt_policy": meta, "empathy": empathy.as_dict()})

    def _confirmation(self, tracker: DialogueStateTracker, intent: Optional[str], parse: Dict[str, Any],
                      asr: Optional[float]) -> Optional[str]:
        """Voice: confirm attributes heard with low speech confidence ("Did you say jazz?");
        forget them when the listener says no."""
        previous = _previous_action(tracker)
        if previous == CONFIRM_ACTION:
            return FORGET_ACTION if intent == "deny" else None
        if asr is None or float(asr) >= float(self.config["asr_confirm_below"]):
            return None
        heard = [e for e in parse.get("entities") or [] if e.get("entity") in CONFIRMABLE]
        return CONFIRM_ACTION if heard else None


def _custom_action_failed(tracker: DialogueStateTracker, domain: Domain) -> bool:
    """The last event is a custom action that returned nothing: the action server is down.

    Every custom action of this project returns events (a message and/or slots), and Rasa
    logs the ``ActionExecuted`` before them, so a bare ``ActionExecuted`` at the end of the
    tracker means the call to the action server failed.
    """
    if not tracker.events:
        return False
    event = tracker.events[-1]
    if not isinstance(event, ActionExecuted):
        return False
    name = event.action_name or ""
    return name in domain.user_actions and not name.startswith("utter_")


def _previous_action(tracker: DialogueStateTracker) -> Optional[str]:
    """The last action before the latest user message (other than listening)."""
    seen_user = False
    for event in reversed(tracker.events):
        if event.type_name == "user":
            if seen_user:
                return None
            seen_user = True
        elif seen_user and isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
            return event.action_name
    return None
