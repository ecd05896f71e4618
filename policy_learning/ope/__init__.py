"""Off-policy evaluation.

- ``per_decision``: IPS, SNIPS and DR of mean prompt usefulness (arrays in, number out);
- ``sequential``: per-decision IS / WIS and sequential (weighted) DR of whole conversations;
- ``from_logs``: both, from a logged-decisions DataFrame.
"""
