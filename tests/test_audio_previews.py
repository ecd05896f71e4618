"""Samples that play: a running server (the project's Alexa, Twilio and audio channels on Sanic)
answers with the reply the sample action sends; the audio URL in the Alexa SSML and in the TwiML
is fetched from that server and must be MP3 at 48 kbit/s, 16/22.05/24 kHz, preview length. A
track without a preview is named, with no audio."""
import asyncio
import json
import re
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher
from sanic import Sanic

from actions.actions import SHELL_CHANNEL, sample_message
from channels import audio
from channels.alexa import AlexaInput, to_ssml
from channels.twilio_voice import TwilioVoiceInput
from conftest import ROOT
from music_domain.catalog import DEFAULT_CATALOG, load_catalog
from music_domain.samples import sample_line, sample_payload

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]


@pytest.fixture(scope="module")
def tracks():
    cat = load_catalog(DEFAULT_CATALOG)
    with_preview = cat[cat["preview_url"].notna()].iloc[0].to_dict()
    without = cat[cat["preview_url"].isna()].iloc[0].to_dict()
    return with_preview, without


def bot_messages(track, channel="alexa"):
    """What the sample action sends, with its response template filled as Rasa's NLG does."""
    d = CollectingDispatcher()
    sample_message(d, track, "utter_sample", channel)
    out = []
    for m in d.messages:
        text = m.get("text")
        if m.get("response"):
            text = RESPONSES[m["response"]][-1]["text"].format(**m)
        out.append({k: v for k, v in {"text": text, "custom": m.get("custom")}.items() if v})
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tracks):
    """A real Sanic server with the project's channels; every message is answered with a sample of
    the track its text names ('open' or 'plain')."""
    async def handler(message):
        track = tracks[0] if "open" in (message.text or "") else tracks[1]
        for m in bot_messages(track):
            await message.output_channel.send_response(message.sender_id, m)

    app = Sanic(f"audio_test_{uuid.uuid4().hex[:8]}")
    creds = yaml.safe_load((ROOT / "rasa_project" / "credentials.yml").read_text())
    twilio_creds = {**creds["channels.twilio_voice.TwilioVoiceInput"], "verify": "false"}
    channels = [AlexaInput(application_id=None, verify=False, signatures=None),
                TwilioVoiceInput.from_credentials(twilio_creds),
                audio.AudioPreviews.from_credentials({"base_url": ""})]
    for ch in channels:
        app.blueprint(ch.blueprint(handler), url_prefix=f"/webhooks/{ch.url_prefix()}")
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def serve():
        asyncio.set_event_loop(loop)
        srv = loop.run_until_complete(app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                                        access_log=False))
        loop.run_until_complete(srv.startup())
        started.set()
        loop.run_forever()

    threading.Thread(target=serve, daemon=True).start()
    assert started.wait(30)
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    audio.configure(None)


def http(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def alexa(server, text):
    body = {"version": "1.0", "session": {"user": {"userId": "u-" + uuid.uuid4().hex}},
            "request": {"type": "IntentRequest", "requestId": uuid.uuid4().hex,
                        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "intent": {"name": "Catch", "slots": {"utterance": {"name": "utterance", "value": text}}}}}
    code, _, raw = http(server + "/webhooks/alexa/webhook", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert code == 200
    return json.loads(raw)["response"]["outputSpeech"]["ssml"]


def twilio(server, text):
    form = urllib.parse.urlencode({"CallSid": uuid.uuid4().hex, "From": "+15550001", "To": "+15550002",
                                   "CallStatus": "in-progress", "SpeechResult": text}).encode()
    code, _, raw = http(server + "/webhooks/twilio_voice/webhook", form,
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 200
    return ET.fromstring(raw)


def mp3_info(data: bytes):
    import imageio_ffmpeg

    with tempfile.NamedTemporaryFile(suffix=".mp3") as f:
        f.write(data)
        f.flush()
        err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", f.name],
                             capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err).groups()
    a = re.search(r"Audio: (\w+).*?, (\d+) Hz, (\w+),.*?(\d+) kb/s", err)
    return a.group(1), int(a.group(2)), int(a.group(4)), int(h) * 3600 + int(m) * 60 + float(s)


def check_clip(server, url, expected_seconds):
    path = urllib.parse.urlsplit(url).path
    code, kind, data = http(server + path)  # fetched from the running server's own route
    assert code == 200 and kind == "audio/mpeg"
    codec, rate, kbps, seconds = mp3_info(data)
    assert codec == "mp3" and kbps == 48 and rate in (16000, 22050, 24000)
    assert abs(seconds - expected_seconds) < 1.0 and seconds <= 240


def test_alexa_reply_plays_a_clip_the_server_serves_with_attribution(server, tracks):
    audio.configure("https://music.example.org/webhooks/")  # Alexa needs https: the public address
    try:
        ssml = alexa(server, "open")
    finally:
        audio.configure(None)
    speak = ET.fromstring(ssml)
    srcs = [a.get("src") for a in speak.iter("audio")]
    assert len(srcs) == 1 and srcs[0].startswith("https://music.example.org/webhooks/audio/")
    check_clip(server, srcs[0], tracks[0]["preview_seconds"])
    assert tracks[0]["track_name"] in ssml and tracks[0]["attribution"] in ssml


def test_twilio_reply_plays_a_clip_the_server_serves_with_attribution(server, tracks):
    twiml = twilio(server, "open")
    plays = [p.text for p in twiml.iter("Play")]
    assert len(plays) == 1 and plays[0].startswith(server + "/webhooks/audio/")  # its own host
    check_clip(server, plays[0], tracks[0]["preview_seconds"])
    said = " ".join(s.text or "" for s in twiml.iter("Say"))
    assert tracks[0]["track_name"] in said and tracks[0]["attribution"] in said


def test_track_without_preview_is_named_with_no_audio(server, tracks):
    ssml = alexa(server, "plain")
    assert "<audio" not in ssml and tracks[1]["artist_name"].split()[0] in ssml
    twiml = twilio(server, "plain")
    assert not list(twiml.iter("Play"))
    assert tracks[1]["track_name"].split()[0] in " ".join(s.text or "" for s in twiml.iter("Say"))


def test_alexa_never_gets_plain_http_audio(tracks):
    ssml = to_ssml(bot_messages(tracks[0]), request=None)  # no https base configured: no audio tag
    assert "<audio" not in ssml and tracks[0]["track_name"] in ssml


def test_the_server_serves_only_its_clip_files(server):
    for bad in ("../../domain.yml", "..%2F..%2Fdomain.yml", "x.wav", "nope.mp3", "%00.mp3"):
        code, _, _ = http(server + "/webhooks/audio/" + bad)
        assert code == 404, bad


def test_shell_shows_one_readable_line(tracks):
    with_preview, without = tracks
    d = CollectingDispatcher()
    sample_message(d, without, "utter_sample", SHELL_CHANNEL)
    assert all("custom" not in m or not m["custom"] for m in d.messages)
    assert d.messages[-1]["text"] == f"▶ {without['track_name']}, {without['artist_name']} (no preview)"
    line = sample_line(sample_payload(with_preview))
    assert line.startswith(f"▶ {with_preview['track_name']}, {with_preview['artist_name']} (30 s preview")
    assert with_preview["attribution"] in line


@pytest.mark.parametrize("title, said", [
    ("Go Your Own Way - 2004 Remaster", "Go Your Own Way"),
    ("Something - Remastered 2009", "Something"),
    ("Blister in the Sun - 2002 Remastered Version", "Blister in the Sun"),
    ("Fascination (Re-Recorded / Remastered)", "Fascination (Re-Recorded)"),
    ("Nobody (feat. Athena Cage) - Single Version; 2007 Remaster", "Nobody (feat. Athena Cage) - Single Version"),
    ("Move It - Live; 1998 Remaster", "Move It - Live"),  # only the remaster goes
    ("Carmela - Versión Remasterizada (Live)", "Carmela (Live)"),
    ("One Way Or Another - Remastered/2001", "One Way Or Another"),
    ("Bohemian Rhapsody - 2011 Mix", "Bohemian Rhapsody"),  # a dated re-mix of the same recording
    ("Something (2019 Mix)", "Something"),
    ("Levels - Radio Mix", "Levels - Radio Mix"),  # a mix that names a version is part of the title
    ("Unholy (feat. Kim Petras)", "Unholy (feat. Kim Petras)"),  # anything but a remaster note stays
    ("Live Forever - Live", "Live Forever - Live"),
    ("Remastered", "Remastered"),  # a title that is only the word is the title
])
def test_a_sample_is_introduced_without_its_remaster_note(tracks, title, said):
    """A Twilio call said "How about this? Go Your Own Way - 2004 Remaster by Fleetwood Mac."
    The introduction (every channel) says the song's title; the payload keeps the release's."""
    track = {**tracks[1], "track_name": title}
    out = bot_messages(track, SHELL_CHANNEL)
    assert f" {said} by {track['artist_name']}." in out[0]["text"]
    assert out[1]["text"].startswith(f"▶ {title}, ")
