"""Fixes to Rasa's own server-side code, installed explicitly when the model's policies are built
(``custom_policies.rasa_policy.PromptSelectionPolicy``), never at import."""
