"""Audio previews served by the Rasa server itself, and the URLs the voice channels put in replies.

Configured in ``rasa_project/credentials.yml``::

    channels.audio.AudioPreviews:
      base_url: ""            # public base of this server's /webhooks/, e.g. https://music.example.com/webhooks/
      # directory: data/audio

Route: ``GET /webhooks/audio/<track_id>.mp3``: the converted open clips
(``music_domain.audio_previews``), ``audio/mpeg``. Only plain file names of that directory are
served (no paths, no other types); anything else is a 404.

A catalogue ``preview_url`` is absolute (``https://...``) or relative to the server's
``/webhooks/`` (``audio/<id>.mp3``). ``resolve`` makes a relative one absolute with ``base_url``,
or, when none is configured, with the scheme and host the channel's request came to (honouring
``X-Forwarded-Proto``/``X-Forwarded-Host`` from a reverse proxy). Alexa plays only ``https://``
audio, so set ``base_url`` to the public https address in production.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text
from urllib.parse import urljoin

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from music_domain.audio_previews import AUDIO_DIR

logger = logging.getLogger(__name__)
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,120}\.mp3$")
_settings: Dict[str, Optional[str]] = {"base_url": None}


def configure(base_url: Optional[str]) -> None:
    base = (base_url or "").strip() or None
    if base and not base.endswith("/"):
        base += "/"
    _settings["base_url"] = base


def request_base(request: Optional[Request]) -> Optional[str]:
    """``<scheme>://<host>/webhooks/`` of the request (as a reverse proxy reports it)."""
    if request is None:
        return None
    headers = request.headers
    scheme = headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{scheme}://{host}/webhooks/" if host else None


def resolve(url: Optional[str], request: Optional[Request] = None) -> Optional[str]:
    """The absolute URL a listener's device fetches, or None."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if re.match(r"^https?://", url, re.I):
        return url
    base = _settings["base_url"] or request_base(request)
    return urljoin(base, url.lstrip("/")) if base else None


class AudioPreviews(InputChannel):
    """Not a conversation channel: a route that serves the preview files."""

    @classmethod
    def name(cls) -> Text:
        return "audio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "AudioPreviews":
        credentials = credentials or {}
        return cls(credentials.get("base_url"), credentials.get("directory"))

    def __init__(self, base_url: Optional[str] = None, directory: Optional[str] = None) -> None:
        configure(base_url)
        self.directory = Path(directory) if directory else AUDIO_DIR
        if not self.directory.is_dir():
            logger.warning("audio previews: %s does not exist; no clip can be played", self.directory)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("audio_previews", __name__)

        @bp.route("/<name>", methods=["GET"])
        async def clip(request: Request, name: str) -> HTTPResponse:
            path = self.directory / name
            if not SAFE_NAME.match(name) or not path.is_file():
                return response.text("not found", status=404)
            return await response.file(path, mime_type="audio/mpeg",
                                       headers={"Cache-Control": "public, max-age=86400"})

        return bp
