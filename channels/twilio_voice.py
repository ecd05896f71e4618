"""Rasa's built-in Twilio Voice channel, with two voice-specific additions.

Configured in ``rasa_project/credentials.yml`` as ``channels.twilio_voice.TwilioVoiceInput``;
its webhook stays at ``/webhooks/twilio_voice/webhook`` and every request is handled by
Rasa's own ``twilio_voice`` handler. Added:

- **ASR confidence**: Twilio's ``Confidence`` form field (0-1) is passed on as the message
  metadata ``asr_confidence``, which the NLU uses to lower its confidence and the policy to
  confirm ("Did you say jazz?") instead of acting.
- **Samples**: a reply that carries a sample (``{"audio_url": ...}``) becomes ``<Play>`` of
  the clip, and replies without text are no longer a server error; the TwiML stays valid.
"""
from __future__ import annotations

import contextvars
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.twilio_voice import TwilioVoiceInput as RasaTwilioVoiceInput
from sanic import Blueprint
from sanic.request import Request
from twilio.twiml.voice_response import Gather, VoiceResponse

_asr_confidence: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("asr_confidence", default=None)


def parse_confidence(value: Any) -> Optional[float]:
    try:
        c = float(value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, c)) if c == c else None  # NaN -> None


class TwilioVoiceInput(RasaTwilioVoiceInput):
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_confidence(message: UserMessage) -> Any:
            confidence = _asr_confidence.get()
            if confidence is not None:
                message.metadata = {**(message.metadata or {}), "asr_confidence": confidence}
            return await on_new_message(message)

        bp = super().blueprint(with_confidence)

        @bp.middleware("request")
        async def remember_confidence(request: Request) -> None:
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
            audio = (message.get("custom") or {}).get("audio_url") if isinstance(message.get("custom"), dict) else None
            if audio:
                parts.append(("play", audio))
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
