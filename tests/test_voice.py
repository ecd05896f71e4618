"""Voice channels and empathetic replies, against a running `rasa run` with the project's
credentials: real Twilio webhook form posts (signed with the account token, as Twilio does),
real Alexa request envelopes (signed by the test's CA, which the server is told to trust), and
REST."""
import json
import os
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from twilio.request_validator import RequestValidator

import http_client
from conftest import TEST_SECRETS, api

pytestmark = pytest.mark.slow  # a trained model, an agent or a running server

APP_ID = TEST_SECRETS["ALEXA_APPLICATION_ID"]
SIGNER = {}


@pytest.fixture(scope="module")
def server(rasa_stack):
    SIGNER["alexa"] = rasa_stack["pki"]
    return rasa_stack["url"]


def post(url, body: bytes, content_type: str, headers=None):
    code, reply = http_client.request(url, "POST", body, {"Content-Type": content_type, **(headers or {})}, timeout=60)
    return code, reply.decode("utf-8", "replace")


def twilio(server, caller, speech=None, confidence=None, status="in-progress"):
    form = {"From": caller, "CallStatus": status, "CallSid": "CA" + uuid.uuid4().hex}
    if speech is not None:
        form["SpeechResult"] = speech
    if confidence is not None:
        form["Confidence"] = str(confidence)
    code, text = twilio_post(server, form)
    assert code == 200, text
    return ET.fromstring(text)  # TwiML must be valid XML


def twilio_signature(url, form, token=None) -> str:
    return RequestValidator(token or os.environ["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)


def twilio_post(server, form, signature=None, body=None):
    """A form post to the Twilio webhook, signed as Twilio signs it unless ``signature`` is given."""
    url = server + "/webhooks/twilio_voice/webhook"
    sig = twilio_signature(url, form) if signature is None else signature
    return post(url, urllib.parse.urlencode(form).encode() if body is None else body,
                "application/x-www-form-urlencoded", {"X-Twilio-Signature": sig} if sig else {})


def said(twiml) -> str:
    return " ".join(e.text or "" for e in twiml.iter("Say"))


def tracker(server, sender):
    with urllib.request.urlopen(api(server, f"/conversations/{urllib.parse.quote(sender, safe='+')}/tracker")) as r:
        return json.loads(r.read())


def envelope(kind, user="amzn1.ask.account.TEST", text=None, app_id=APP_ID, age_s=0.0, intent="CatchAllIntent"):
    ts = (datetime.now(timezone.utc) - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%SZ")
    req = {"type": kind, "requestId": "amzn1.echo-api.request." + uuid.uuid4().hex, "timestamp": ts,
           "locale": "en-GB"}
    if kind == "IntentRequest":
        req["intent"] = {"name": intent, "slots": {"utterance": {"name": "utterance", **({"value": text} if text else {})}}}
    return {"version": "1.0",
            "session": {"new": kind == "LaunchRequest", "sessionId": "amzn1.echo-api.session.1",
                        "application": {"applicationId": app_id}, "user": {"userId": user}},
            "context": {"System": {"application": {"applicationId": app_id}, "user": {"userId": user}}},
            "request": req}


def alexa(server, body, headers=None):
    """Posts an Alexa request signed by the test CA's certificate (or with ``headers`` instead)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    code, text = post(server + "/webhooks/alexa/webhook", raw, "application/json",
                      SIGNER["alexa"].headers(raw) if headers is None else headers)
    return code, (json.loads(text) if text.strip().startswith("{") else text)


def ssml_of(reply):
    ssml = reply["response"]["outputSpeech"]["ssml"]
    return ET.fromstring(ssml)  # SSML must be valid XML


# -- Twilio Voice ----------------------------------------------------------------------
def test_twilio_call_gets_twiml_with_a_sample(server):
    caller = "+1555" + uuid.uuid4().hex[:7]
    first = twilio(server, caller, status="ringing")
    assert first.tag == "Response" and first.find("Gather") is not None
    assert said(first), "the call is answered with a spoken prompt"
    reply = twilio(server, caller, "play some upbeat rock from the 2010s", confidence=0.93)
    assert "How about this" in said(reply) or "Here's" in said(reply)
    # the catalogue's rock tracks have no preview: the sample is named, nothing fabricated is played
    # (tests/test_audio_previews.py fetches and checks a clip that does play)
    assert not [e.text for e in reply.iter("Play")]
    assert "<speak>" not in said(reply)


def test_twilio_empty_speech_gets_a_graceful_spoken_reply(server):
    caller = "+1555" + uuid.uuid4().hex[:7]
    twilio(server, caller, status="ringing")
    reply = twilio(server, caller, "")
    assert said(reply) and reply.find("Gather") is not None
    reprompt = twilio(server, caller, None)  # no SpeechResult at all: the last reply is repeated
    assert said(reprompt)


def test_low_asr_confidence_is_confirmed_then_forgotten_when_denied(server):
    caller = "+1555" + uuid.uuid4().hex[:7]
    twilio(server, caller, status="ringing")
    reply = twilio(server, caller, "jazz", confidence=0.31)
    assert "Did you say jazz" in said(reply) or "was that jazz" in said(reply)
    t = tracker(server, caller)
    heard = [e for e in t["events"] if e.get("event") == "user"][-1]["parse_data"]
    assert heard["asr_confidence"] == pytest.approx(0.31)
    assert heard["intent"]["confidence"] < 0.7
    reply = twilio(server, caller, "no", confidence=0.95)
    assert "misheard" in said(reply) or "mistake" in said(reply)
    assert tracker(server, caller)["slots"]["genre"] is None
    confident = twilio(server, caller, "jazz", confidence=0.95)
    assert "Did you say" not in said(confident)


# -- Alexa-style endpoint -----------------------------------------------------------------
def test_alexa_conversation_with_ssml_audio_and_session_end(server):
    user = "amzn1.ask.account." + uuid.uuid4().hex
    code, reply = alexa(server, envelope("LaunchRequest", user))
    assert code == 200 and reply["response"]["shouldEndSession"] is False
    ssml_of(reply)
    code, reply = alexa(server, envelope("IntentRequest", user, "play some upbeat rock from the 2010s"))
    speak = ssml_of(reply)
    assert not speak.findall("audio"), "a sample without a preview is named, with no audio tag"
    assert " by " in "".join(speak.itertext())
    assert reply["response"]["shouldEndSession"] is False
    code, reply = alexa(server, envelope("IntentRequest", user, "brilliant I love it keep playing stuff like this"))
    assert code == 200
    ssml_of(reply)
    assert reply["response"]["shouldEndSession"] is True, reply
    code, reply = alexa(server, envelope("SessionEndedRequest", user))
    assert code == 200 and reply["response"] == {}


def test_alexa_stop_intent_ends_the_session(server):
    user = "amzn1.ask.account." + uuid.uuid4().hex
    alexa(server, envelope("LaunchRequest", user))
    code, reply = alexa(server, envelope("IntentRequest", user, intent="AMAZON.StopIntent"))
    assert code == 200 and reply["response"]["shouldEndSession"] is True


def test_alexa_help_intent_says_what_the_assistant_can_do(server):
    """Amazon's built-in help intent is the listener asking "what can you do": the assistant says
    how to talk to it and keeps the session open."""
    user = "amzn1.ask.account." + uuid.uuid4().hex
    alexa(server, envelope("LaunchRequest", user))
    code, reply = alexa(server, envelope("IntentRequest", user, intent="AMAZON.HelpIntent"))
    assert code == 200 and reply["response"]["shouldEndSession"] is False
    words = "".join(ssml_of(reply).itertext())
    assert "samples" in words and "station" in words, words


def _unknown_type():
    body = envelope("LaunchRequest")
    body["request"]["type"] = "Dance"
    return body


# bodies are built when the test runs: a timestamp made at collection would be stale by then
@pytest.mark.parametrize("make_body, reason", [
    (lambda: envelope("LaunchRequest", age_s=600), "stale"),
    (lambda: envelope("LaunchRequest", app_id="amzn1.ask.skill.someone-else"), "application id"),
    (lambda: b"{not json", "malformed"),
    (lambda: b"\xff\xfe\x00garbage", "malformed"),
    (_unknown_type, "unsupported"),
    (lambda: {"version": "1.0"}, "envelope"),
], ids=["stale", "other-skill", "not-json", "not-utf8", "unknown-type", "no-request"])
def test_alexa_bad_requests_get_a_4xx_with_the_reason(server, make_body, reason):
    code, reply = alexa(server, make_body())
    assert 400 <= code < 500
    assert reason in json.dumps(reply)


def test_alexa_intent_without_text_gets_a_reprompt(server):
    code, reply = alexa(server, envelope("IntentRequest", text=None))
    assert code == 200 and reply["response"]["shouldEndSession"] is False
    assert "catch" in reply["response"]["outputSpeech"]["ssml"]


# -- text channels and tone --------------------------------------------------------------
def rest(server, sender, text):
    code, body = post(server + "/webhooks/rest/webhook", json.dumps({"sender": sender, "message": text}).encode(),
                      "application/json")
    assert code == 200
    return json.loads(body)


def test_rest_replies_are_plain_text_without_ssml(server):
    sender = "text-" + uuid.uuid4().hex
    out = rest(server, sender, "play some upbeat rock from the 2010s")
    texts = " ".join(m.get("text", "") for m in out)
    assert texts and "<speak>" not in texts and "<audio" not in texts


def test_frustrated_listener_gets_another_tone_and_a_change_of_direction(server):
    sender = "frustrated-" + uuid.uuid4().hex
    rest(server, sender, "play some rock")
    replies = []
    for text in ("no, I hate it", "that's awful", "no, not that, I really don't like it"):
        replies.append(" ".join(m.get("text", "") for m in rest(server, sender, text)))
    t = tracker(server, sender)
    assert t["slots"]["closeness_band"] == "frustrated"
    assert t["slots"]["empathy_score"] is not None
    last = replies[-1]
    assert any(p in last for p in ("another direction", "something a bit different", "change direction",
                                   "different angle", "narrow it down differently", "start afresh",
                                   "would help me get it right")), replies
    # the score and band are logged with the turn's decision
    metas = [e.get("metadata") or {} for e in t["events"] if e.get("event") == "action"]
    assert any("empathy" in m and m["empathy"]["band"] == "frustrated" for m in metas)
