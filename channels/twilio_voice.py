"""Rasa's built-in Twilio Voice channel, with request signatures checked and two voice additions.

Configured in ``rasa_project/credentials.yml`` as ``channels.twilio_voice.TwilioVoiceInput``;
its webhook stays at ``/webhooks/twilio_voice/webhook`` and every request is handled by
Rasa's own ``twilio_voice`` handler. Added:

- **Signatures**: every POST must carry a valid ``X-Twilio-Signature``, checked with the
  ``twilio`` package's ``RequestValidator`` and the account's auth token (``auth_token``,
  from ``${TWILIO_AUTH_TOKEN}``). The URL is the one Twilio called: ``webhook_url`` when set
  (behind a reverse proxy, the public https URL of this webhook), otherwise the URL the request
  arrived at. A missing, wrong or replayed signature gets a 403 before Rasa sees the request, so
  nothing reaches the tracker store. ``verify: false`` turns the check off for local
  experiments only, with a warning at start-up.
- **ASR confidence**: Twilio's ``Confidence`` form field (0-1) is passed on as the message
  metadata ``asr_confidence``, which the NLU uses to lower its confidence and the policy to
  confirm ("Did you say jazz?") instead of acting.
- **Samples**: a reply that carries a sample with a preview (``{"audio_url": ...}``, made absolute
  by ``channels.audio``) becomes ``<Play>`` of the clip and ``<Say>`` of its attribution; a
  sample without one is only named. Replies without text are no longer a server error; the
  TwiML stays valid.
"""
from __future__ import annotations

import contextvars
import logging
from urllib.parse import parse_qs
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.twilio_voice import TwilioVoiceInput as RasaTwilioVoiceInput
from sanic import Blueprint, response
from sanic.request import Request, RequestParameters
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

from channels.audio import resolve as resolve_audio
from channels.replay import ReplayGuard
from music_domain.samples import attribution_sentence

logger = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Twilio-Signature"

_asr_confidence: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("asr_confidence", default=None)
_request: contextvars.ContextVar[Optional[Request]] = contextvars.ContextVar("twilio_request", default=None)


def parse_confidence(value: Any) -> Optional[float]:
    try:
        c = float(value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, c)) if c == c else None  # NaN -> None


class TwilioVoiceInput(RasaTwilioVoiceInput):
    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TwilioVoiceInput":
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        channel.configure_signatures(auth_token=credentials.get("auth_token"),
                                     webhook_url=credentials.get("webhook_url") or None,
                                     verify=str(credentials.get("verify", "true")).lower() != "false")
        return channel

    def configure_signatures(self, auth_token: Optional[str], webhook_url: Optional[str] = None,
                             verify: bool = True) -> None:
        if verify and not auth_token:
            raise ValueError("the twilio_voice channel needs auth_token (the account's auth token, e.g. "
                             "${TWILIO_AUTH_TOKEN}) to check X-Twilio-Signature; verify: false only for local tests")
        if not verify:
            logger.warning("Twilio request signatures are NOT checked (verify: false): anyone can post to the "
                           "webhook. Never run like this where the webhook is reachable from outside.")
        self.validator = RequestValidator(auth_token) if verify else None
        self.webhook_url = webhook_url
        self.replays = ReplayGuard()

    def signature_problem(self, request: Request) -> Optional[str]:
        """Why a webhook request is refused, or None when it is Twilio's."""
        if not hasattr(self, "validator"):  # built without from_credentials: fail closed
            return "signature checking is not configured (build the channel with from_credentials)"
        validator = self.validator
        if validator is None:  # verify: false, warned about at start-up
            return None
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return f"missing {SIGNATURE_HEADER}"
        try:  # Twilio signs every parameter, empty ones too (Sanic's request.form drops those)
            params = RequestParameters(parse_qs((request.body or b"").decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return "undecodable form body"
        url = self.webhook_url or request.url
        if not validator.validate(url, params, signature):
            return "signature does not match"
        if self.replays.is_replay(signature):
            return "replayed request"
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_confidence(message: UserMessage) -> Any:
            confidence = _asr_confidence.get()
            if confidence is not None:
                message.metadata = {**(message.metadata or {}), "asr_confidence": confidence}
            return await on_new_message(message)

        bp = super().blueprint(with_confidence)

        @bp.middleware("request")
        async def check_signature(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            problem = self.signature_problem(request)
            if problem:
                logger.warning("twilio_voice: refused a request from %s: %s", request.ip, problem)
                return response.text(f"Forbidden: {problem}", status=403)
            return None

        @bp.middleware("request")
        async def remember_confidence(request: Request) -> None:
            _request.set(request)  # the host a relative preview URL is resolved against
            form = request.form if request.method == "POST" else None
            _asr_confidence.set(parse_confidence(form.get("Confidence")) if form else None)

        return bp

    def _build_twilio_voice_response(self, messages: List[Dict[Text, Any]]) -> VoiceResponse:
        voice_response = VoiceResponse()
        gather = Gather(input="speech", action=f"/webhooks/{self.name()}/webhook", actionOnEmptyResult=True,
                        speechTimeout=self.speech_timeout, speechModel=self.speech_model, enhanced=self.enhanced)
        parts = []
        for message in messages:
            if message.get("text"):
                parts.append(("say", message["text"]))
            custom = message.get("custom") if isinstance(message.get("custom"), dict) else {}
            audio = resolve_audio(custom.get("audio_url"), _request.get())
            if audio:
                parts.append(("play", audio))
                credit = attribution_sentence(custom)
                if credit:
                    parts.append(("say", credit))
        if not parts:
            parts = [("say", self.reprompt_fallback_phrase)]
        # Everything but the last part is said before listening; the last one inside <Gather>.
        for i, (kind, value) in enumerate(parts):
            target = gather if i + 1 == len(parts) else voice_response
            if kind == "say":
                target.say(value, voice=self.assistant_voice)
            else:
                target.play(value)
        voice_response.append(gather)
        return voice_response
