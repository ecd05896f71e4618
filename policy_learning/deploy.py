"""Deploy the registry's current prompt-policy version into the assistant.

    python -m policy_learning.deploy [--server http://127.0.0.1:5005]

``rasa train`` builds a model serving ``current`` (only the prompt policy retrains: Rasa's
cache keeps the NLU), then, if a server is running (``rasa run --enable-api``, as ``make
run``), ``PUT /model`` with the API token (``RASA_AUTH_TOKEN``) swaps it in without a restart:
the next message is answered by the new version, and the conversations in the tracker store
carry on. If the new model cannot be trained or loaded, the server keeps the model it has.
Used by ``make improve`` after a promotion and by ``make rollback``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional


class DeployError(RuntimeError):
    pass


def rasa_train(python: str = sys.executable, out: str = "models", config: str = "config.yml") -> Path:
    """Train the Rasa model that serves the registry's current version; returns its path."""
    rasa = str(Path(python).with_name("rasa"))
    cmd = [rasa, "train", "--data", "rasa_project/data", "--config", config, "--domain", "domain.yml", "--out", out]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise DeployError(f"`rasa train` failed (exit {done.returncode}); the running model keeps serving:\n"
                          + (done.stderr or done.stdout)[-2000:])
    models = sorted(Path(out).glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1].resolve()


def reload_server(server: str, model_file: Path, token: Optional[str], timeout: float = 300.0) -> str:
    """``PUT /model`` on a running ``rasa run --enable-api``; the server keeps its old model if
    the new one fails to load."""
    import urllib.error
    import urllib.parse
    import urllib.request

    url = server.rstrip("/") + "/model" + (f"?token={urllib.parse.quote(token)}" if token else "")
    req = urllib.request.Request(url, data=json.dumps({"model_file": str(model_file)}).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return f"reloaded {server} with {model_file.name} (HTTP {resp.status})"
    except urllib.error.HTTPError as e:
        raise DeployError(f"{server} refused the new model (HTTP {e.code}: {e.read()[:300]!r}); it keeps "
                          f"serving the old one") from None
    except (urllib.error.URLError, OSError) as e:
        return f"no server answered at {server} ({e}); `make run` / `make shell` will serve the new model"


def deploy(server: Optional[str], token: Optional[str], config: str = "config.yml", out: str = "models") -> str:
    model = rasa_train(config=config, out=out)
    msg = f"trained {model}"
    if server:
        msg += "; " + reload_server(server, model, token)
    return msg


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default=os.environ.get("RASA_URL", "http://127.0.0.1:5005"),
                   help="a running server to reload ('' for none)")
    p.add_argument("--config", default="config.yml")
    a = p.parse_args(argv)
    try:
        print(deploy(a.server or None, os.environ.get("RASA_AUTH_TOKEN"), a.config))
    except DeployError as e:
        print(f"deploy: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
