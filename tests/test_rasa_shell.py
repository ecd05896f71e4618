"""A scripted `rasa shell` session, driven through a pseudo-terminal (pexpect).

Four conversations in one shell session, separated by /restart: three end in an accepted
station (system-led, customer-led, guided) and one in abandonment. The outcomes are then
read back from the SQL tracker store the shell wrote to.
"""
import asyncio
import os
import sys
from pathlib import Path

import pytest

from conftest import ROOT, free_port, trained_model

pytestmark = pytest.mark.slow  # a trained model, an agent or a running server

pexpect = pytest.importorskip("pexpect", reason="pexpect is in requirements.txt; run ./setup.sh")

PROMPT = "Your input ->"
SCRIPT = [
    ("system-led", ["help me find music", "rock", "upbeat", "2010s", "yes!", "yes please"]),
    ("customer-led", ["play some upbeat 90s metal", "yes", "Brilliant, I love it"]),
    ("guided", ["find me some music", "surprise me", "laid back", "the second one", "I don't mind",
                "no, not that", "yeah I like this", "yes"]),
    ("abandoned", ["help me find music", "forget it"]),
]


def _endpoints(tmp_path: Path, action_url: str) -> Path:
    path = tmp_path / "endpoints.yml"
    path.write_text(f"action_endpoint:\n  url: {action_url}\n  headers:\n    X-Action-Token: ${{ACTION_SERVER_TOKEN}}\n"
                    f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {tmp_path / 'shell.db'}\n")
    return path


def test_scripted_rasa_shell_session(action_server, tmp_path):
    endpoints = _endpoints(tmp_path, action_server)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false",
           "PYTHONUNBUFFERED": "1"}
    # as `make shell` runs it; rasa shell runs its own server, and a free port keeps it clear
    # of a running `rasa run` on 5005
    child = pexpect.spawn(sys.executable, ["-m", "rasa_runtime.cli", "shell", "--model", str(trained_model()),
                                           "--endpoints", str(endpoints), "--port", str(free_port())],
                          cwd=str(ROOT), env=env, encoding="utf-8", timeout=300, dimensions=(60, 250))
    transcript = []
    try:
        child.expect(PROMPT)
        # start-up shows Rasa's own log lines, not the dependencies' deprecation warnings
        startup = child.before
        assert "Rasa server is up and running" in startup
        assert "DeprecationWarning" not in startup and "site-packages" not in startup, startup
        for _, messages in SCRIPT:
            for message in messages:
                child.sendline(message)
                child.expect(PROMPT, timeout=120)
                transcript.append((message, child.before))
            child.sendline("/restart")
            child.expect(PROMPT, timeout=120)
        child.sendline("/stop")
        child.expect(pexpect.EOF, timeout=60)
    finally:
        if child.isalive():
            child.terminate(force=True)

    said = " ".join(reply for _, reply in transcript)
    assert "How about this" in said or "Did you like it" in said, "samples were offered in the shell"

    from policy_learning.log_export import read_tracker_store, split_sessions

    trackers = asyncio.run(read_tracker_store(str(endpoints), str(ROOT / "domain.yml")))
    assert len(trackers) == 1, "one shell session, one sender"
    outcomes = []
    for session in split_sessions(trackers[0][1]):
        values = [e.get("value") for e in session if e.get("event") == "slot" and e.get("name") == "outcome"]
        outcomes.append(next((v for v in values if v), None))
    assert outcomes == ["accepted", "accepted", "accepted", "abandoned"], (outcomes, transcript)
