"""Rasa's REST channel (``/webhooks/rest/webhook``) with the request body validated first.

Rasa's handler assumes a JSON object; a top-level array or string, or an empty body, made it
answer 500. Here such bodies, a non-string ``sender``/``message`` and a non-object
``metadata`` get a 400 that says what is wrong. Everything else is Rasa's own handler.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Text

from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic.exceptions import InvalidUsage as BadRequest  # sanic 21.12: 400
from sanic.request import Request


def _body(req: Request) -> Dict[str, Any]:
    try:
        body = req.json
    except Exception as e:  # noqa: BLE001 - sanic raises its own for undecodable bodies
        raise BadRequest("request body is not valid JSON") from e
    if not isinstance(body, dict):
        raise BadRequest('request body must be a JSON object like {"sender": "...", "message": "..."}')
    return body


class RestInput(RasaRestInput):
    async def _extract_sender(self, req: Request) -> Optional[Text]:
        sender = _body(req).get("sender")
        if sender is not None and not isinstance(sender, (str, int)):
            raise BadRequest("'sender' must be a string")
        return None if sender is None else str(sender)

    def _extract_message(self, req: Request) -> Optional[Text]:
        message = _body(req).get("message")
        if message is not None and not isinstance(message, str):
            raise BadRequest("'message' must be a string")
        return message

    def _extract_input_channel(self, req: Request) -> Text:
        channel = _body(req).get("input_channel")
        return channel if isinstance(channel, str) and channel else self.name()

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        metadata = _body(request).get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise BadRequest("'metadata' must be a JSON object")
        return metadata
