import json
import os
import secrets
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
# Fresh secrets for each test session, inherited by the servers the tests start: the tests sign
# and authenticate with these, never with a developer's .secrets/local.env.
TEST_SECRETS = {"RASA_AUTH_TOKEN": secrets.token_hex(16), "ACTION_SERVER_TOKEN": secrets.token_hex(16),
                "TWILIO_AUTH_TOKEN": secrets.token_hex(16), "SENDER_HASH_SALT": secrets.token_hex(16),
                "ALEXA_APPLICATION_ID": "amzn1.ask.skill.music-recommender-test"}
os.environ.update(TEST_SECRETS)


@pytest.fixture(scope="session")
def assets():
    from embeddings.assets import load_assets

    return load_assets()


def trained_model() -> Path:
    """The model the tests talk to: the rule-based prompt policy without exploration
    (`make test-model`), so that what they assert doesn't depend on which version the
    registry has promoted or on an exploration draw."""
    model = ROOT / "models" / "test" / "rule_based.tar.gz"
    if not model.exists():
        pytest.fail("no test model at models/test/rule_based.tar.gz; run `make test-model` (make test does)")
    return model


async def agent_with_actions(action_url, db):
    """An agent on the test model that calls the action server at ``action_url`` and keeps its
    conversations in a SQLite tracker store at ``db``."""
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    from actions.server import action_endpoint

    endpoints = AvailableEndpoints(action=action_endpoint(action_url),
                                   tracker_store=EndpointConfig(type="SQL", dialect="sqlite", db=str(db)))
    return await load_agent(str(trained_model()), endpoints=endpoints)


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
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)],
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
def alexa_pki():
    from pki import make_pki

    return make_pki()


def api(url: str, path: str) -> str:
    """``url + path`` with the test session's API token."""
    return f"{url}{path}{'&' if '?' in path else '?'}token={TEST_SECRETS['RASA_AUTH_TOKEN']}"


@pytest.fixture(scope="session")
def rasa_stack(action_server, alexa_pki, tmp_path_factory):
    """`rasa run` with the project's credentials (REST, Twilio Voice, Alexa) and the HTTP API
    behind the test session's token: its URL, its SQLite tracker store and its Alexa test CA.

    The Alexa channel checks signatures as in production; its trusted root is the CA made for
    the test, and its certificate cache already holds that CA's chain under the test's URL."""
    import hashlib

    from pki import CERT_URL

    tmp = tmp_path_factory.mktemp("voice")
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {action_server}\n  headers:\n"
                         "    X-Action-Token: ${ACTION_SERVER_TOKEN}\n"
                         f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp / 'voice.db'}\n")
    (tmp / "ca.pem").write_bytes(alexa_pki.root_pem)
    (tmp / "certs").mkdir()
    (tmp / "certs" / (hashlib.sha256(CERT_URL.encode()).hexdigest() + ".pem")).write_bytes(alexa_pki.chain_pem)
    credentials = tmp / "credentials.yml"
    credentials.write_text((ROOT / "rasa_project" / "credentials.yml").read_text().replace(
        "channels.alexa.AlexaInput:\n",
        f"channels.alexa.AlexaInput:\n  trusted_ca_file: {tmp / 'ca.pem'}\n  cert_cache_dir: {tmp / 'certs'}\n"))
    port = free_port()
    rasa = str(Path(sys.executable).with_name("rasa"))
    log = open(tmp / "rasa.log", "w")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "HF_HUB_OFFLINE": "1",
           "SANIC_REQUEST_MAX_SIZE": str(1 << 20)}
    proc = subprocess.Popen([rasa, "run", "--model", str(trained_model()), "--endpoints", str(endpoints),
                             "--credentials", str(credentials), "--port", str(port),
                             "--interface", "127.0.0.1", "--enable-api",
                             "--auth-token", TEST_SECRETS["RASA_AUTH_TOKEN"]], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=300, proc=proc)
        _wait_ready(f"http://127.0.0.1:{port}")
        yield {"url": f"http://127.0.0.1:{port}", "db": tmp / "voice.db", "pki": alexa_pki}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def _wait_ready(url, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(api(url, "/status"), timeout=5) as r:
                if json.loads(r.read()).get("model_file"):
                    return
        except (urllib.error.URLError, ConnectionError, ValueError):
            pass
        time.sleep(1)
    raise RuntimeError("rasa run never loaded a model")
