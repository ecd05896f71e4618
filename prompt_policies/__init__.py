"""Prompt policies: which prompt to ask next, given a ``DialogueState``.

Shared by the Rasa component (``custom_policies.rasa_policy``), the simulator and the offline
loop (``policy_learning``), so the deployed and the simulated assistant choose alike.

- ``base``: the interface (``PromptPolicy``: probabilities over the prompts) and ``Decision``,
  what every choice logs;
- ``rule_based``: the scripted baseline;
- ``exploration``: epsilon-greedy, softmax or directed exploration around any policy;
- ``learned``: argmax policies over a model learned offline (reward model, fitted Q).
"""
from prompt_policies.base import PROMPT_INDEX, Decision, PromptPolicy, one_hot
from prompt_policies.exploration import ExplorationPolicy
from prompt_policies.learned import FittedQPolicy, LearnedPromptPolicy
from prompt_policies.rule_based import RuleBasedPromptPolicy

__all__ = ["PROMPT_INDEX", "Decision", "PromptPolicy", "one_hot", "ExplorationPolicy", "FittedQPolicy",
           "LearnedPromptPolicy", "RuleBasedPromptPolicy"]
