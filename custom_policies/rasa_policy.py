"""``PromptSelectionPolicy``: the Rasa 3.6 policy that picks the next prompt.

It serves one version of the prompt policy from the policy registry
(``policy_learning.registry``): ``policy_version`` in ``config.yml`` names it (default
``current``, the version the deployment gate last promoted; ``vN`` pins one). ``rasa train``
copies that artefact, verified, into Rasa's model storage, and the trained model loads it from
there: the policy never trains itself on logs, and ``fingerprint_addon`` follows the
artefact, so ``rasa train`` retrains exactly when the deployed version changes. An artefact
that is missing, damaged or built for other state features stops ``rasa train`` (and a model
load) with an error that names the fix, so the model that is serving keeps serving.

At each system turn after a listener's message it builds the ``DialogueState`` (by replaying
the tracker's events), lets the deployed policy choose with the exploration the artefact
prescribes (``epsilon``/``exploration`` override it), and predicts the prompt's action; after
its prompt it predicts ``action_listen``. Rules (greetings, stop, accepting a station) win
through ``RulePolicy``'s higher priority.

Every prediction carries, in ``PolicyPrediction.action_metadata`` (stored with the
``ActionExecuted`` event in the tracker store): the candidate prompts, their probabilities,
the chosen prompt's propensity, the policy's name and **artefact version**, and the
dialogue-state features. ``rasa shell --debug`` prints the version with every choice.
"""
from __future__ import annotations

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
ARTEFACT_DIR = "prompt_policy"
BUILTIN_RULE_BASED = "rule_based"  # policy_version: the built-in baseline, without a registry
CONFIRM_ACTION, FORGET_ACTION = "action_confirm_heard", "action_forget_heard"
CONFIRMABLE = set(ATTRIBUTES)
HISTORY_SLOT = "history_in_use"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class PromptSelectionPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "priority": 2,
            # the policy registry and the version served: "current" (the promoted one), "vN", or
            # "rule_based" (the built-in baseline, no registry needed)
            "policy_registry": "models/policy_registry",
            "policy_version": "current",
            # None: the exploration the artefact prescribes; a number overrides its epsilon
            "epsilon": None,
            "exploration": None,  # None: the artefact's; epsilon_greedy | softmax | directed
            "use_history": True,  # listening history is available to retrieval and features
            "assets_dir": None,
            "seed": None,
            # voice: below this speech-recognition confidence, heard attributes are confirmed first
            "asr_confirm_below": 0.6,
        }

    @classmethod
    def _registry(cls, config: Dict[str, Any]):
        from policy_learning.registry import PolicyRegistry

        return PolicyRegistry(config.get("policy_registry") or "models/policy_registry")

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Follows the artefact served: a new promotion (or rollback) makes `rasa train` retrain."""
        from policy_learning.registry import ArtefactError

        version = str(config.get("policy_version") or "current")
        if version == BUILTIN_RULE_BASED:
            return BUILTIN_RULE_BASED
        registry = cls._registry(config)
        try:
            resolved = registry.resolve(version)
            return f"{resolved}:{registry.digest(resolved)}"
        except (ArtefactError, OSError) as e:
            return f"unloadable:{e}"  # train() raises the clear error

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, deployed=None) -> None:
        super().__init__(config, model_storage, resource, execution_context)
        # The server-side fixes (``rasa_runtime``) go in when the policy is built for a model,
        # not as a side effect of importing this module.
        action_response_validation.install()
        request_validation.install()
        self.deployed = deployed
        self._prompt_policy = None
        self._engine = None
        self._rng = np.random.default_rng(config.get("seed"))

    # -- training: copy the artefact into the model ---------------------------------------
    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        from policy_learning.registry import ArtefactError, load_artefact

        version = str(self.config.get("policy_version") or "current")
        files: Dict[str, bytes] = {}
        if version != BUILTIN_RULE_BASED:
            registry = self._registry(self.config)
            try:
                resolved = registry.resolve(version)
                files = registry.files(resolved)
                self.deployed = load_artefact(files, source=str(registry.path(resolved)))
            except (ArtefactError, OSError) as e:
                raise RasaException(f"PromptSelectionPolicy cannot serve policy_version '{version}': {e}") from None
            logger.info(f"PromptSelectionPolicy: the model serves prompt policy {self.deployed.version} "
                        f"({self.deployed.policy.name}) from {registry.root}")
        with self._model_storage.write_to(self._resource) as d:
            target = Path(d) / ARTEFACT_DIR
            target.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (target / name).write_bytes(data)
        return self._resource

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "PromptSelectionPolicy":
        from policy_learning.registry import ArtefactError, load_artefact

        files: Dict[str, bytes] = {}
        try:
            with model_storage.read_from(resource) as d:
                folder = Path(d) / ARTEFACT_DIR
                if folder.is_dir():
                    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        except ValueError:
            pass
        deployed = None
        if files:
            try:
                deployed = load_artefact(files, source="the trained model")
            except ArtefactError as e:
                raise RasaException(f"PromptSelectionPolicy: {e}") from None
        elif str(config.get("policy_version") or "current") != BUILTIN_RULE_BASED:
            raise RasaException("PromptSelectionPolicy: the model holds no prompt-policy artefact; "
                                "retrain it with `make train`")
        return cls(config, model_storage, resource, execution_context, deployed=deployed)

    @property
    def version(self) -> str:
        return self.deployed.version if self.deployed is not None else BUILTIN_RULE_BASED

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
        """The served policy with its exploration: the artefact's, unless the config overrides it."""
        if self._prompt_policy is None:
            from prompt_policies import ExplorationPolicy, RuleBasedPromptPolicy

            eps, mode = self.config.get("epsilon"), self.config.get("exploration")
            if self.deployed is None:
                base = RuleBasedPromptPolicy()
                base.version = BUILTIN_RULE_BASED  # what the logs say served
                eps = float(eps or 0.0)
                self._prompt_policy = ExplorationPolicy(base, eps, mode or "epsilon_greedy") if eps > 0 else base
            else:
                self._prompt_policy = self.deployed.with_exploration(
                    None if eps is None else float(eps), mode)
            logger.info(f"PromptSelectionPolicy: serving prompt policy {self.version} as "
                        f"{self._prompt_policy.name}")
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
        parse = tracker.latest_message.parse_data if tracker.latest_message else {}
        if _a_yes_to_the_station_playing(tracker, intent, parse):
            # `make shell`: "more like this" started the station, and a "yes" after it was
            # offered a station again; the start action says it is playing (no prompt, none logged)
            return self._prediction(self._one_hot(domain, START_STATION_ACTION))
        from music_domain.tracker_replay import state_from_events
        from music_domain.dialogue_state import state_features
        from music_domain.empathy import state_closeness

        state = state_from_events((e.as_dict() for e in tracker.applied_events()), tracker.sender_id, self.engine)
        self.engine.refresh_candidates(state)
        asr = parse.get("asr_confidence")
        empathy = state_closeness(state, asr)
        # The tone for whatever is said next (response variations conditioned on the band).
        events = [SlotSet("empathy_score", round(empathy.score, 4)), SlotSet("closeness_band", empathy.band),
                  # the action server's sample retrieval follows this policy's history setting
                  SlotSet(HISTORY_SLOT, bool(self.config["use_history"]))]
        # When this policy's prompt is the one taken, the listener did not take "Shall I drop the
        # era?" (a yes goes to the relax rule), so the offer lapses: a later yes to a station offer
        # starts it instead of dropping the era. Optional events: applied only if this policy wins
        # (the tone slots above are applied whoever wins; this one must not reach the relax rule).
        lapsed = [SlotSet("pending_relax", None)] if tracker.get_slot("pending_relax") else []
        confirm = self._confirmation(tracker, intent, parse, asr)
        if confirm:
            return self._prediction(self._one_hot(domain, confirm), events=events,
                                    action_metadata={"empathy": empathy.as_dict()})
        from prompt_policies import ExplorationPolicy
        from prompt_policies.mixture import MixturePolicy

        policy = self.prompt_policy
        # randomised policies draw (and log the draw's propensity); any other takes its argmax
        decision = policy.choose(state, self._rng if isinstance(policy, (ExplorationPolicy, MixturePolicy)) else None)
        action = PROMPT_ACTIONS[[p for p in decision.metadata()["candidates"]].index(decision.prompt)]
        meta = decision.metadata()
        logger.debug(f"PromptSelectionPolicy {decision.version} ({decision.policy}) chose {decision.prompt} "
                     f"with probability {decision.propensity:.3f}")
        meta["features"] = [float(x) for x in state_features(state, with_history=True)]
        meta["turn"] = state.turn + 1
        return self._prediction(self._one_hot(domain, action), events=events, optional_events=lapsed,
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


START_STATION_ACTION = "action_start_station"
# what makes a yes after the station started ask for something anew ("yes, but newer", "yes, jazz")
_ASKS_ANEW = tuple(ATTRIBUTES) + ("work", "artist", "critique", "unknown_mention")


def _a_yes_to_the_station_playing(tracker: DialogueStateTracker, intent: Optional[str], parse: Dict[str, Any]) -> bool:
    """A plain yes right after the station started: nothing to ask or play."""
    return intent == "affirm" and tracker.get_slot("outcome") == "accepted" \
        and _previous_action(tracker) == START_STATION_ACTION \
        and not any(e.get("entity") in _ASKS_ANEW for e in parse.get("entities") or [])


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
