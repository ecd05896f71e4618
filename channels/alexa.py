"""An Alexa-style voice channel: Alexa Skills Kit JSON in, SSML out.

Configured in ``rasa_project/credentials.yml``::

    channels.alexa.AlexaInput:
      application_id: ${ALEXA_APPLICATION_ID}     # requests for other skills are rejected
      max_request_age_s: 150                        # stale timestamps are rejected (replay attacks)
      launch_text: help me find music
      # verify_signature: true                      # Amazon's request signature (default: on)
      # trusted_ca_file: path/to/ca.pem             # default: certifi's roots; a test/private CA
      # cert_cache_dir: .cache/alexa_certs          # certificate chains cached on disk too

Webhook: ``POST /webhooks/alexa/webhook``.

- Every request's signature is checked first (``channels/alexa_signature.py``: the certificate
  URL, the chain to a trusted root, ``echo-api.amazon.com``, the SHA-256 signature of the raw
  body), then the application id, the timestamp (within ``max_request_age_s``) and the request
  id (a request id seen before is a replay). Any failure is a 400 with the reason, as Amazon
  asks, and nothing reaches Rasa. ``verify_signature: false`` is a development switch only; the
  server logs a warning at start-up when it is off.

- ``LaunchRequest`` opens the conversation as if the listener said ``launch_text``.
- ``IntentRequest``: the spoken text comes from the catch-all slot (``utterance``) of any
  intent; ``AMAZON.StopIntent``/``AMAZON.CancelIntent`` end it like "stop", ``AMAZON.HelpIntent``
  is "help" (what the assistant can do); with no text the
  listener hears a reprompt and the session stays open.
- ``SessionEndedRequest`` is acknowledged with an empty response.
- Replies are SSML: text is escaped, a sample with a preview becomes ``<audio src="…"/>`` (the
  catalogue's ``preview_url``, made absolute by ``channels.audio``; https only) and its
  attribution; a sample without one is only named, and ``shouldEndSession`` is true once the conversation has
  an outcome (a station started, or the listener gave up).
- A wrong application id, a stale or missing timestamp, malformed JSON, a missing user or an
  unknown request type get a 400 with the reason; never a 500.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple
from xml.sax.saxutils import escape, quoteattr

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.alexa_signature import AlexaSignatureVerifier, CertificateCache, SignatureError, load_roots
from channels.audio import resolve as resolve_audio
from channels.replay import ReplayGuard
from music_domain.samples import attribution_sentence

logger = logging.getLogger(__name__)

STOP_INTENTS = {"AMAZON.StopIntent": "stop", "AMAZON.CancelIntent": "stop"}
# Amazon's built-in intents said as the words the assistant understands: stop, and help (a skill
# must answer AMAZON.HelpIntent with what it can do)
BUILT_IN_INTENTS = {**STOP_INTENTS, "AMAZON.HelpIntent": "help"}
REPROMPT = "Sorry, I didn't catch that. You can say a genre, a mood or an artist."


class AlexaRequestError(ValueError):
    """A request to refuse with 400, and why."""


class AlexaOutput(CollectingOutputChannel):
    @classmethod
    def name(cls) -> Text:
        return "alexa"


def _application_id(envelope: Dict[str, Any]) -> Optional[str]:
    for path in (("session", "application", "applicationId"), ("context", "System", "application", "applicationId")):
        node: Any = envelope
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node
    return None


def _user_id(envelope: Dict[str, Any]) -> Optional[str]:
    for path in (("session", "user", "userId"), ("context", "System", "user", "userId")):
        node: Any = envelope
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, str) and node:
            return node
    return None


def _timestamp(value: Any) -> float:
    if not isinstance(value, str):
        raise AlexaRequestError("request timestamp missing")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as e:
        raise AlexaRequestError("request timestamp is not ISO 8601") from e


def spoken_text(req: Dict[str, Any], slot_name: str) -> Optional[str]:
    intent = req.get("intent") if isinstance(req.get("intent"), dict) else {}
    if intent.get("name") in BUILT_IN_INTENTS:
        return BUILT_IN_INTENTS[intent["name"]]
    slots = intent.get("slots") if isinstance(intent.get("slots"), dict) else {}
    slot = slots.get(slot_name) if isinstance(slots.get(slot_name), dict) else {}
    value = slot.get("value")
    if not isinstance(value, str):
        # any slot with a value: some skills name the catch-all slot differently
        value = next((s.get("value") for s in slots.values() if isinstance(s, dict)
                      and isinstance(s.get("value"), str)), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def to_ssml(messages: List[Dict[str, Any]], request: Optional[Request] = None) -> str:
    """Text as speech; a sample with a preview as ``<audio>`` (https only, as Alexa requires) followed
    by its attribution when its licence asks for one. A sample without a playable preview was
    already introduced by title and artist, and gets no audio tag."""
    parts = []
    for m in messages:
        if m.get("text"):
            parts.append(escape(m["text"]))
        custom = m.get("custom")
        if not isinstance(custom, dict):
            continue
        url = resolve_audio(custom.get("audio_url"), request)
        if url and url.startswith("https://"):
            parts.append(f"<audio src={quoteattr(url)}/>")
            credit = attribution_sentence(custom)
            if credit:
                parts.append(escape(credit))
        elif url:
            logger.warning("alexa: not playing %s: Alexa plays https audio only (set base_url of "
                           "channels.audio.AudioPreviews to the public https address)", url)
    return "<speak>" + " ".join(parts) + "</speak>"


def alexa_response(ssml: str, end_session: bool, reprompt: Optional[str] = None) -> Dict[str, Any]:
    body: Dict[str, Any] = {"outputSpeech": {"type": "SSML", "ssml": ssml}, "shouldEndSession": end_session}
    if reprompt and not end_session:
        body["reprompt"] = {"outputSpeech": {"type": "SSML", "ssml": f"<speak>{escape(reprompt)}</speak>"}}
    return {"version": "1.0", "response": body}


class AlexaInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "alexa"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        def on(key: str) -> bool:
            return str(credentials.get(key, "true")).lower() != "false"

        signatures = None
        if on("verify_signature"):
            signatures = AlexaSignatureVerifier(load_roots(credentials.get("trusted_ca_file") or None),
                                                CertificateCache(cache_dir=credentials.get("cert_cache_dir") or None))
        return cls(application_id=credentials.get("application_id"),
                   max_request_age_s=float(credentials.get("max_request_age_s", 150)),
                   verify=on("verify"), signatures=signatures,
                   launch_text=credentials.get("launch_text", "help me find music"),
                   slot_name=credentials.get("slot_name", "utterance"))

    def __init__(self, application_id: Optional[str], max_request_age_s: float = 150.0, verify: bool = True,
                 signatures: Optional[AlexaSignatureVerifier] = None,
                 launch_text: str = "help me find music", slot_name: str = "utterance") -> None:
        if verify and not application_id:
            raise ValueError("the alexa channel needs an application_id (or verify: false for local testing)")
        if signatures is None:
            logger.warning("Alexa request signatures are NOT checked (verify_signature: false): anyone who knows "
                           "the skill id can talk as any user. Development only.")
        self.application_id = application_id
        self.max_request_age_s = max_request_age_s
        self.verify = verify
        self.signatures = signatures
        self.replays = ReplayGuard(window_s=2 * max_request_age_s)
        self.launch_text = launch_text
        self.slot_name = slot_name

    def check(self, envelope: Any, now: Optional[float] = None) -> Tuple[Dict[str, Any], str]:
        """The request and sender of a valid envelope; ``AlexaRequestError`` otherwise."""
        if not isinstance(envelope, dict) or not isinstance(envelope.get("request"), dict):
            raise AlexaRequestError("not an Alexa request envelope")
        req = envelope["request"]
        if self.verify:
            if _application_id(envelope) != self.application_id:
                raise AlexaRequestError("application id does not match this skill")
            age = (now if now is not None else time.time()) - _timestamp(req.get("timestamp"))
            if abs(age) > self.max_request_age_s:
                raise AlexaRequestError(f"request timestamp is stale ({age:.0f} s old)")
        sender = _user_id(envelope)
        if not sender:
            raise AlexaRequestError("request has no user id")
        if self.verify and self.replays.is_replay(req.get("requestId") if isinstance(req.get("requestId"), str)
                                                  else None):
            raise AlexaRequestError("request id was seen before (replayed request)")
        return req, sender

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("alexa_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.signatures is not None:
                try:
                    await asyncio.to_thread(self.signatures.verify, dict(request.headers), request.body or b"")
                except SignatureError as e:
                    logger.warning("alexa: refused a request from %s: %s", request.ip, e)
                    return response.json({"error": f"signature check failed: {e}"}, status=400)
            try:
                envelope = json.loads(request.body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return response.json({"error": "malformed JSON"}, status=400)
            try:
                req, sender = self.check(envelope)
            except AlexaRequestError as e:
                return response.json({"error": str(e)}, status=400)
            kind = req.get("type")
            if kind == "SessionEndedRequest":
                return response.json({"version": "1.0", "response": {}})
            if kind == "LaunchRequest":
                text = self.launch_text
            elif kind == "IntentRequest":
                text = spoken_text(req, self.slot_name)
                if text is None:
                    return response.json(alexa_response(f"<speak>{escape(REPROMPT)}</speak>", False, REPROMPT))
            else:
                return response.json({"error": f"unsupported request type {kind!r}"}, status=400)
            collector = AlexaOutput()
            await on_new_message(UserMessage(text, collector, sender, input_channel=self.name(),
                                             metadata=self.get_metadata(request)))
            ended = await self._conversation_ended(request, sender)
            last_text = next((m["text"] for m in reversed(collector.messages) if m.get("text")), None)
            return response.json(alexa_response(to_ssml(collector.messages, request), ended, last_text))

        return bp

    @staticmethod
    async def _conversation_ended(request: Request, sender: str) -> bool:
        """An outcome (station started, or gave up) was recorded after the last message."""
        agent = getattr(request.app.ctx, "agent", None)
        if agent is None or agent.tracker_store is None:
            return False
        tracker = await agent.tracker_store.retrieve(sender)
        if tracker is None:
            return False
        for event in reversed(tracker.events):
            if event.type_name == "user":
                return False
            if event.type_name == "slot" and event.key == "outcome" and event.value:
                return True
        return False
