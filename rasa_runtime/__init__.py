"""Fixes to Rasa's own server-side code, installed when the model's policies load."""
