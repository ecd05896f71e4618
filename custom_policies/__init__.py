"""Prompt selection: the rule-based baseline, the offline-learned policy, exploration,
rewards, training and off-policy evaluation. Rasa graph components live in
``rasa_policies``; everything else works on plain ``DialogueState``s and arrays.
"""
