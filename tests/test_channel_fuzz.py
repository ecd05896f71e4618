"""Bad-input sweep of every entry point beside REST (tests/test_rest_fuzz.py): the Twilio and
Alexa webhooks, the action server and Rasa's HTTP API, with and without credentials. Every case
gets a 4xx (never a 5xx, never a 200), and each server is still up afterwards."""
import json
import urllib.parse
import uuid
from datetime import datetime, timezone

import pytest

from conftest import TEST_SECRETS, api
from test_security import ACTION_CALL, call
from test_voice import envelope, twilio_post, twilio_signature

pytestmark = pytest.mark.slow  # running servers

HUGE = 2 << 20  # over the server's 1 MiB request limit


def alive(url):
    return call(api(url, "/status"))[0] == 200


# -- Twilio ---------------------------------------------------------------------------------------
def _form():
    return {"From": "+1555" + uuid.uuid4().hex[:7], "CallStatus": "in-progress", "CallSid": "CA" + uuid.uuid4().hex,
            "SpeechResult": "play jazz"}


TWILIO_CASES = {
    "garbage signature": lambda url: twilio_post(url, _form(), signature="garbage=="),
    "signature of another request": lambda url: twilio_post(url, _form(), signature=twilio_signature(
        url + "/webhooks/twilio_voice/webhook", _form())),
    "JSON body instead of a form": lambda url: call(url + "/webhooks/twilio_voice/webhook", "POST",
                                                    {"From": 1, "SpeechResult": ["x"]}, {"X-Twilio-Signature": "x"}),
    "invalid UTF-8": lambda url: twilio_post(url, _form(), body=b"From=%2B1555&SpeechResult=\xff\xfe\xfa"),
    "huge body": lambda url: twilio_post(url, _form(), body=b"SpeechResult=" + b"a" * HUGE),
    "empty body, no signature": lambda url: twilio_post(url, {}, signature="", body=b""),
    "wrong types in the form": lambda url: twilio_post(url, _form(), signature="x", body=b"From[]=1&From[]=2&Confidence=NaN"),
}


@pytest.mark.parametrize("name", list(TWILIO_CASES))
def test_twilio_fuzz(rasa_server, name):
    code, text = TWILIO_CASES[name](rasa_server)
    assert 400 <= code < 500, (name, code, text[:200])
    assert alive(rasa_server)


def test_twilio_replay_is_refused(rasa_server):
    form = _form()
    assert twilio_post(rasa_server, form)[0] == 200
    assert twilio_post(rasa_server, form)[0] == 403
    assert alive(rasa_server)


# -- Alexa ----------------------------------------------------------------------------------------
def _signed(pki, raw: bytes):
    return raw, pki.headers(raw)


def _envelope_with(**changes):
    body = envelope("IntentRequest", "amzn1.ask.account." + uuid.uuid4().hex, "play jazz")
    for path, value in changes.items():
        node = body
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return json.dumps(body).encode()


ALEXA_CASES = {
    # correctly signed, but wrong in content
    "request is a list": lambda pki: _signed(pki, _envelope_with(request=[1, 2])),
    "user id is a number": lambda pki: _signed(pki, _envelope_with(session__user__userId=42,
                                                                    context__System__user__userId=42)),
    "timestamp is a number": lambda pki: _signed(pki, _envelope_with(request__timestamp=1700000000)),
    "timestamp in the future": lambda pki: _signed(pki, _envelope_with(
        request__timestamp=datetime(2100, 1, 1, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))),
    "application id is an object": lambda pki: _signed(pki, _envelope_with(
        session__application__applicationId={"x": 1}, context__System__application__applicationId={"x": 1})),
    "invalid UTF-8": lambda pki: _signed(pki, b'{"version": "1.0", "request": "\xff\xfe"}'),
    "top-level array": lambda pki: _signed(pki, b"[1, 2, 3]"),
    "empty body": lambda pki: _signed(pki, b""),
    # not signed by Alexa
    "huge body": lambda pki: (b'{"a": "' + b"a" * HUGE + b'"}', {}),
    "garbage signature": lambda pki: (_envelope_with(), {"SignatureCertChainUrl": "https://s3.amazonaws.com/echo.api/x.pem",
                                                         "Signature-256": "garbage"}),
    "certificate URL elsewhere": lambda pki: (_envelope_with(), pki.headers(_envelope_with(),
                                                                            "https://evil.example/echo.api/x.pem")),
    "header is not ASCII": lambda pki: (_envelope_with(), {"SignatureCertChainUrl": "https://s3.amazonaws.com/echo.api/é",
                                                           "Signature-256": "ü"}),
}


@pytest.mark.parametrize("name", list(ALEXA_CASES))
def test_alexa_fuzz(rasa_stack, name):
    raw, headers = ALEXA_CASES[name](rasa_stack["pki"])
    headers = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    code, body = call(rasa_stack["url"] + "/webhooks/alexa/webhook", "POST", raw, headers)
    assert 400 <= code < 500, (name, code, body[:200])
    assert alive(rasa_stack["url"])


def test_alexa_replay_is_refused(rasa_stack):
    raw = _envelope_with()
    headers = rasa_stack["pki"].headers(raw)
    url = rasa_stack["url"] + "/webhooks/alexa/webhook"
    assert call(url, "POST", raw, headers)[0] == 200
    code, body = call(url, "POST", raw, headers)
    assert code == 400 and b"replayed" in body


# -- the action server ----------------------------------------------------------------------------
TOKEN = {"X-Action-Token": TEST_SECRETS["ACTION_SERVER_TOKEN"]}
ACTION_CASES = {
    "no token, valid call": ({}, json.dumps(ACTION_CALL).encode()),
    "garbage token": ({"X-Action-Token": "\u00e9" * 300}, json.dumps(ACTION_CALL).encode()),
    "token, not JSON": (TOKEN, b"{not json"),
    "token, top-level array": (TOKEN, b"[1, 2]"),
    "token, invalid UTF-8": (TOKEN, b'{"next_action": "\xff\xfe"}'),
    "token, unknown action": (TOKEN, json.dumps({**ACTION_CALL, "next_action": "action_rm_rf"}).encode()),
    "token, tracker of the wrong type": (TOKEN, json.dumps({**ACTION_CALL, "tracker": "x"}).encode()),
    "token, huge body": (TOKEN, b'{"a": "' + b"a" * HUGE + b'"}'),
}


@pytest.mark.parametrize("name", list(ACTION_CASES))
def test_action_server_fuzz(action_server, name):
    headers, body = ACTION_CASES[name]
    headers = {k: v.encode("utf-8").decode("latin-1") for k, v in headers.items()}
    code, reply = call(action_server, "POST", body, headers)
    assert 400 <= code < 500, (name, code, reply[:200])
    assert call(action_server.replace("/webhook", "/health"))[0] == 200


# -- Rasa's HTTP API --------------------------------------------------------------------------------
API_CASES = [
    ("GET", "/conversations/%00/tracker", None),
    ("GET", "/conversations/" + urllib.parse.quote("../../etc/passwd", safe="") + "/tracker", None),
    ("POST", "/conversations/fuzz/tracker/events", b"{not json"),
    ("POST", "/conversations/fuzz/tracker/events", json.dumps([{"event": "no-such-event"}]).encode()),
    ("POST", "/conversations/fuzz/tracker/events", b'{"event": "\xff"}'),
    ("PUT", "/model", b"[1]"),
    ("PUT", "/model", json.dumps({"model_file": "/etc/passwd"}).encode()),
    ("POST", "/model/parse", b"a" * HUGE),
]


@pytest.mark.parametrize("method, path, body", API_CASES, ids=[f"{m} {p[:40]}" for m, p, _ in API_CASES])
def test_api_fuzz_without_and_with_the_token(rasa_server, method, path, body):
    code, _ = call(rasa_server + path, method, body)
    assert code in (401, 403, 413), ("without token", method, path, code)
    code, reply = call(api(rasa_server, path), method, body)
    assert 400 <= code < 500 or (code == 200 and path.endswith("/tracker")), ("with token", method, path, code, reply[:200])
    assert alive(rasa_server)
