"""The ``rasa`` command line with the project's environment (``make train``, ``shell``, ``run``).

    python -m rasa_runtime.cli shell --model models ...

Exactly ``rasa <args>``, after ``rasa_runtime.environment.apply_defaults()`` and with the
dependencies' deprecation warnings filtered (see ``quiet_dependencies``): ``rasa shell`` shows
the conversation and Rasa's own log lines, not warnings a user cannot act on.
"""
from __future__ import annotations

import sys


def main() -> None:
    from rasa_runtime.environment import apply_defaults, quiet_dependencies

    apply_defaults()
    import sanic  # noqa: F401 - its import turns deprecation warnings on for every module

    quiet_dependencies()  # ... so they are filtered after it
    import warnings

    # Rasa imports matplotlib, whose font set-up calls pyparsing names deprecated in pyparsing
    # 3.3; that warning is also a UserWarning, which Rasa sets to "once" after this point, so
    # matplotlib is imported here, with the deprecation ignored
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import matplotlib  # noqa: F401
    from rasa.__main__ import main as rasa_main

    from rasa_runtime import model_loading

    model_loading.install()  # the previous model serves if the newest will not load; no silent drops

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
