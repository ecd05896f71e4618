"""The listener simulator.

- ``listener``: simulated listeners (hidden goal, history-backed taste, traits) and how
  they answer each prompt, as meaning representations.
- ``phrasing``: turns a meaning representation into a natural-language utterance.
- ``fast_path``: runs tens of thousands of conversations straight through the policy code.
- ``rasa_path``: runs the same listeners against the real Rasa agent.
"""
