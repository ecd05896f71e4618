"""Refuse HTTP API bodies of the wrong JSON type with a 400 instead of Rasa's 500.

Rasa 3.6's ``validate_request_body`` only checks that a body exists; the handlers behind it
(``PUT /model``, ``POST /model/parse``, ``/conversations/<id>/messages``, ...) then call
``request.json.get``, so an authenticated caller posting a JSON array or string got a 500
(found by the API fuzz sweep, tests/test_channel_fuzz.py). Bodies that are not JSON at all
(the YAML of ``/model/train``, the stories of ``/model/test/stories``) are left to Rasa.
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Text

import rasa.server
from rasa.server import ErrorResponse
from sanic.exceptions import InvalidUsage
from sanic.request import Request

_rasa_validate_request_body = rasa.server.validate_request_body


def validate_request_body(request: Request, error_message: Text) -> None:
    _rasa_validate_request_body(request, error_message)
    try:  # parsed once: Sanic keeps it for the handler's own request.json
        body = request.json
    except InvalidUsage:
        return
    if not isinstance(body, dict):
        raise ErrorResponse(HTTPStatus.BAD_REQUEST, "BadRequest",
                            f"The request body must be a JSON object, not {type(body).__name__}. {error_message}")


def install() -> None:
    rasa.server.validate_request_body = validate_request_body
