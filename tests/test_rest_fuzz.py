"""Bad input sweep on the REST channel of a running `rasa run`: every payload gets a 4xx or a
graceful reply, the server stays up, and hostile sender ids are stored as plain data."""
import json
import sqlite3
import urllib.request
import pytest

import http_client
from conftest import ROOT, api

pytestmark = pytest.mark.slow  # a trained model, an agent or a running server

INJECTIONS = ["x'; DROP TABLE events;--", "../../../../etc/passwd", "<script>alert(1)</script>",
              "$(rm -rf /)", "%00%2e%2e%2f", "user\u202eevil", "🎵" * 50]

PAYLOADS = [
    ("wrong types: numeric sender", json.dumps({"sender": 123, "message": "play rock"}).encode()),
    ("wrong types: list message", json.dumps({"sender": "fz-1", "message": ["play", "rock"]}).encode()),
    ("wrong types: object message", json.dumps({"sender": "fz-2", "message": {"text": "rock"}}).encode()),
    ("wrong types: null message", json.dumps({"sender": "fz-3", "message": None}).encode()),
    ("top-level array", b'[1, 2, 3]'),
    ("top-level string", b'"hello"'),
    ("missing sender", json.dumps({"message": "play rock"}).encode()),
    ("missing message", json.dumps({"sender": "fz-4"}).encode()),
    ("empty body", b""),
    ("truncated JSON", b'{"sender": "fz-5", "message": "pla'),
    ("invalid UTF-8", b'{"sender": "fz-6", "message": "\xff\xfe\xfa play"}'),
    ("NUL and control characters", json.dumps({"sender": "fz-7", "message": "\x00\x07\x1b[2J rock"}).encode()),
    ("60 kB message", json.dumps({"sender": "fz-8", "message": "rock " * 12000}).encode()),
    ("2 MB body", json.dumps({"sender": "fz-9", "message": "a" * (2 << 20)}).encode()),
] + [(f"injection in text: {s!r}", json.dumps({"sender": "fz-10", "message": s}).encode()) for s in INJECTIONS] \
  + [(f"injection in sender: {s!r}", json.dumps({"sender": s, "message": "play some rock"}).encode())
     for s in INJECTIONS]


def send(server, body: bytes):
    return http_client.request(server + "/webhooks/rest/webhook", "POST", body,
                               {"Content-Type": "application/json"}, timeout=120)


def alive(server) -> bool:
    with urllib.request.urlopen(api(server, "/status"), timeout=30) as r:
        return r.status == 200


@pytest.mark.parametrize("name, body", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_bad_payload_gets_4xx_or_graceful_reply_and_server_stays_up(rasa_server, name, body):
    code, reply = send(rasa_server, body)
    assert code < 500, (name, code, reply[:300])
    if code == 200:
        messages = json.loads(reply)
        assert isinstance(messages, list)
        assert all(isinstance(m.get("text", ""), str) for m in messages)
    assert alive(rasa_server)


def test_hostile_sender_ids_are_stored_as_data_not_paths_or_sql(rasa_stack):
    before = set(p.name for p in ROOT.iterdir())
    for sender in INJECTIONS:
        code, _ = send(rasa_stack["url"], json.dumps({"sender": sender, "message": "play some rock"}).encode())
        assert code == 200
    assert set(p.name for p in ROOT.iterdir()) <= before, "no file was created from a sender id"
    # the events table survived and holds the hostile ids verbatim, each with its own conversation
    with sqlite3.connect(rasa_stack["db"]) as conn:
        senders = {row[0] for row in conn.execute("SELECT DISTINCT sender_id FROM events")}
    assert set(INJECTIONS) <= senders
