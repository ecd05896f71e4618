import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rasa_runtime.environment import apply_defaults

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
apply_defaults()


@pytest.fixture(scope="session")
def assets():
    from embeddings.assets import load_assets

    return load_assets()


def trained_model() -> Path:
    models = sorted((ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained Rasa model in models/; run `make setup` (or `make train`) first")
    return models[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 120.0, proc=None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


@pytest.fixture(scope="session")
def action_server():
    port = free_port()
    log = open(ROOT / "models" / "test_action_server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc=proc)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="session")
def rasa_server(rasa_stack):
    return rasa_stack["url"]


@pytest.fixture(scope="session")
def rasa_stack(action_server, tmp_path_factory):
    """`rasa run` with the project's credentials (REST, Twilio Voice, Alexa) and the HTTP API:
    its URL and its SQLite tracker store."""
    tmp = tmp_path_factory.mktemp("voice")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {action_server}\n"
                         f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'voice.db'}\n")
    port = free_port()
    rasa = str(Path(sys.executable).with_name("rasa"))
    log = open(tmp / "rasa.log", "w")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "HF_HUB_OFFLINE": "1",
           "SANIC_REQUEST_MAX_SIZE": str(1 << 20)}
    proc = subprocess.Popen([rasa, "run", "--model", str(trained_model()), "--endpoints", str(endpoints),
                             "--credentials", str(ROOT / "rasa_project" / "credentials.yml"), "--port", str(port),
                             "--interface", "127.0.0.1", "--enable-api"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=300, proc=proc)
        _wait_ready(f"http://127.0.0.1:{port}")
        yield {"url": f"http://127.0.0.1:{port}", "db": tmp / "voice.db"}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def _wait_ready(url, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/status", timeout=5) as r:
                if json.loads(r.read()).get("model_file"):
                    return
        except (urllib.error.URLError, ConnectionError, ValueError):
            pass
        time.sleep(1)
    raise RuntimeError("rasa run never loaded a model")
