"""What a sample is to a channel: the payload an action sends, and its one-line text form.

The payload (the ``custom`` part of a bot message) is the same for every channel::

    {"track_id": ..., "title": ..., "artist": ..., "audio_url": <the catalogue's preview_url or None>,
     "preview_seconds": 30.0, "attribution": "Vibe Ace by Kevin MacLeod, CC BY 3.0, shortened"}

``audio_url`` is only ever the catalogue file's own ``preview_url``: an absolute URL, or a path on
this server (``/webhooks/audio/<id>.mp3``) that the voice channels prefix with the configured base
URL (``channels.audio``). A track without a preview has ``audio_url`` None: it is introduced by
title and artist and nothing is played.
"""
from __future__ import annotations

import math
import re
from typing import Any, Dict, Mapping, Optional

DEFAULT_PREVIEW_SECONDS = 30.0  # Spotify-style previews, when a catalogue gives a URL but no length


def _text(value: Any) -> Optional[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    value = str(value).strip()
    return value or None


# a release's own note: a remaster, or a dated re-mix of the same recording ("2011 Mix", "2009 Stereo
# Mix"); a mix that names a version ("Radio Mix", "Club Mix") is part of the title
_REMASTER = re.compile(r"remaster|^\s*(?:19|20)\d\d\s+(?:(?:stereo|mono)\s+)?mix\s*$", re.IGNORECASE)
_BRACKETED = re.compile(r"\s*[\(\[][^\(\)\[\]]*[\)\]]")


def _note_parts(note: str) -> list:
    """The parts of a release note: "Live; 2013 Remaster" -> ["Live", "2013 Remaster"]."""
    return [p.strip() for p in re.split(r"[;/,]", note) if p.strip()]


def _is_note(text: str) -> bool:
    """Does ``text`` say the release is a remaster (or a dated re-mix)?"""
    return any(_REMASTER.search(p) for p in _note_parts(text))


def _without_remaster(note: str) -> list:
    """The parts of a release note that say something else than the remaster (or a bare year)."""
    return [p for p in _note_parts(note) if not _REMASTER.search(p) and not re.fullmatch(r"\d{4}", p)]


def spoken_title(title: Any) -> str:
    """The title as the assistant says it: without the release's remaster note, which the
    catalogue's titles carry ("Go Your Own Way - 2004 Remaster" was said aloud on a Twilio call;
    "Something - Remastered 2009", "Move It - Live; 1998 Remaster" -> "Move It - Live").
    Everything else is kept ("(feat. Kim Petras)", "- Live"); a title that is only such a note is
    kept whole."""
    title = str(title).strip()

    def bracket(m: "re.Match") -> str:
        text = m.group(0).strip()
        if not _is_note(text[1:-1]):
            return m.group(0)
        keep = _without_remaster(text[1:-1])
        return f" {text[0]}{' / '.join(keep)}{text[-1]}" if keep else ""

    out = _BRACKETED.sub(bracket, title)
    head, sep, tail = out.rpartition(" - ")
    if sep and _is_note(_BRACKETED.sub("", tail)):
        brackets = [b.strip() for b in _BRACKETED.findall(tail)]
        keep = _without_remaster(_BRACKETED.sub("", tail))
        out = head + (" - " + "; ".join(keep) if keep else "") + "".join(" " + b for b in brackets)
    out = re.sub(r"\s{2,}", " ", out).strip(" -")
    return out or title


def sample_payload(track: Mapping[str, Any]) -> Dict[str, Any]:
    url = _text(track.get("preview_url"))
    seconds = track.get("preview_seconds")
    if url and (seconds is None or (isinstance(seconds, float) and math.isnan(seconds))):
        seconds = DEFAULT_PREVIEW_SECONDS
    return {"track_id": str(track["track_id"]), "title": str(track["track_name"]),
            "artist": str(track["artist_name"]), "audio_url": url,
            "preview_seconds": float(seconds) if url else None,
            "attribution": _text(track.get("attribution")) if url else None}


def sample_line(payload: Mapping[str, Any]) -> str:
    """'▶ Sugar, We're Goin Down, Fall Out Boy (30 s preview)' or '... (no preview)'."""
    head = f"▶ {payload['title']}, {payload['artist']}"
    if not payload.get("audio_url"):
        return f"{head} (no preview)"
    extra = f"; {payload['attribution']}" if payload.get("attribution") else ""
    return f"{head} ({payload['preview_seconds']:.0f} s preview{extra})"


def attribution_sentence(payload: Mapping[str, Any]) -> Optional[str]:
    """Spoken after a played clip whose licence asks for credit."""
    return f"That was {payload['attribution']}." if payload.get("audio_url") and payload.get("attribution") else None
