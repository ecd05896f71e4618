"""Security: who may talk to the assistant, its API and its action server.

Against the running `rasa run` of the test session (its API token, its Twilio auth token and its
Alexa test CA are the session's own, see conftest), plus unit checks of the Alexa signature
verifier, the action server's authorisation and the secrets file."""
import json
import logging
import os
import re
import sqlite3
import stat
import subprocess
import sys
import urllib.parse
import uuid

import pytest

import http_client
from conftest import ROOT, TEST_SECRETS, api, free_port, trained_model, wait_for_port
from pki import CERT_URL, make_pki

TOKEN = TEST_SECRETS["RASA_AUTH_TOKEN"]


def call(url, method="GET", body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    return http_client.request(url, method, data, {"Content-Type": "application/json", **(headers or {})})


def stored_senders(db):
    with sqlite3.connect(db) as conn:
        return {row[0] for row in conn.execute("SELECT DISTINCT sender_id FROM events")}


# -- Rasa's HTTP API ------------------------------------------------------------------------------
@pytest.mark.slow
def test_api_refuses_without_the_token_and_answers_with_it(rasa_stack):
    url = rasa_stack["url"]
    sender = "api-" + uuid.uuid4().hex
    assert call(url + "/webhooks/rest/webhook", "POST", {"sender": sender, "message": "hello"})[0] == 200
    event = [{"event": "slot", "name": "genre", "value": "jazz"}]
    without = {
        "tracker": call(f"{url}/conversations/{sender}/tracker"),
        "events": call(f"{url}/conversations/{sender}/tracker/events", "POST", event),
        "model": call(f"{url}/model", "PUT", {"model_file": str(trained_model())}),
        "status": call(f"{url}/status"),
        "wrong token": call(f"{url}/conversations/{sender}/tracker?token=not-the-token"),
    }
    for name, (code, _) in without.items():
        assert code in (401, 403), (name, code)
    code, body = call(api(url, f"/conversations/{sender}/tracker"))
    assert code == 200 and json.loads(body)["sender_id"] == sender
    assert json.loads(body)["slots"]["genre"] is None, "the refused event was not appended"
    code, body = call(api(url, f"/conversations/{sender}/tracker/events"), "POST", event)
    assert code == 200 and json.loads(body)["slots"]["genre"] == "jazz"
    code, _ = call(api(url, "/model"), "PUT", {"model_file": str(trained_model())})
    assert code in (200, 204)
    code, body = call(api(url, "/status"))
    assert code == 200 and json.loads(body)["model_file"]


# -- Twilio -------------------------------------------------------------------------------------
def _twilio_form(caller, speech="play some jazz"):
    return {"From": caller, "CallStatus": "in-progress", "CallSid": "CA" + uuid.uuid4().hex, "SpeechResult": speech}


@pytest.mark.slow
def test_twilio_signature_valid_missing_tampered_and_wrong_url(rasa_stack):
    from test_voice import twilio_post, twilio_signature

    url, db = rasa_stack["url"], rasa_stack["db"]
    webhook = url + "/webhooks/twilio_voice/webhook"
    refused = {}
    form = _twilio_form("+1555" + uuid.uuid4().hex[:7])
    refused["missing"] = (form["From"], twilio_post(url, form, signature=""))
    form = _twilio_form("+1555" + uuid.uuid4().hex[:7])
    tampered = urllib.parse.urlencode({**form, "SpeechResult": "play some metal"}).encode()
    refused["tampered body"] = (form["From"], twilio_post(url, form, body=tampered))
    form = _twilio_form("+1555" + uuid.uuid4().hex[:7])
    refused["wrong url"] = (form["From"], twilio_post(url, form, twilio_signature(webhook + "?x=1", form)))
    form = _twilio_form("+1555" + uuid.uuid4().hex[:7])
    refused["wrong token"] = (form["From"], twilio_post(url, form, twilio_signature(webhook, form, "f" * 32)))
    for name, (caller, (code, text)) in refused.items():
        assert code == 403, (name, code, text)
        assert caller not in stored_senders(db), f"{name}: nothing may reach the tracker store"
    form = _twilio_form("+1555" + uuid.uuid4().hex[:7])
    code, text = twilio_post(url, form)
    assert code == 200 and "<Response>" in text
    assert form["From"] in stored_senders(db)
    code, text = twilio_post(url, form)  # the same signed request again
    assert code == 403 and "replayed" in text


def test_twilio_channel_needs_an_auth_token_unless_explicitly_turned_off(caplog):
    from channels.twilio_voice import TwilioVoiceInput

    with pytest.raises(ValueError, match="auth_token"):
        TwilioVoiceInput.from_credentials({"initial_prompt": "hi"})
    with caplog.at_level(logging.WARNING):
        TwilioVoiceInput.from_credentials({"verify": "false"})
    assert "NOT checked" in caplog.text
    unconfigured = TwilioVoiceInput("hi", "sorry", "woman", "5", "default", "false")
    assert "not configured" in unconfigured.signature_problem(request=None), "a channel built by hand fails closed"


# -- Alexa ----------------------------------------------------------------------------------------
BODY = json.dumps({"version": "1.0", "request": {"type": "LaunchRequest"}}).encode()


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def verifier_for(pki, chain=None, roots=None, calls=None):
    from channels.alexa_signature import AlexaSignatureVerifier, CertificateCache

    def fetch(url):
        if calls is not None:
            calls.append(url)
        return pki.chain_pem if chain is None else chain

    return AlexaSignatureVerifier(roots or [pki.root], CertificateCache(fetch=fetch))


def test_alexa_signature_accepts_a_request_signed_by_a_trusted_chain_and_caches_it(pki):
    calls = []
    v = verifier_for(pki, calls=calls)
    v.verify(pki.headers(BODY), BODY)
    v.verify({k.lower(): val for k, val in pki.headers(BODY).items()}, BODY)  # header names in any case
    assert calls == [CERT_URL], "the chain is fetched once and then cached"


@pytest.mark.parametrize("cert_url, reason", [
    ("http://s3.amazonaws.com/echo.api/echo-api-cert.pem", "https"),
    ("https://notamazon.com/echo.api/echo-api-cert.pem", "host"),
    ("https://s3.amazonaws.com/EcHo.aPi/echo-api-cert.pem", "path"),
    ("https://s3.amazonaws.com/invalid.path/echo-api-cert.pem", "path"),
    ("https://s3.amazonaws.com/echo.api/../echo-api-cert.pem", "path"),
    ("https://s3.amazonaws.com:563/echo.api/echo-api-cert.pem", "port"),
    ("https://s3.amazonaws.com:99999/echo.api/x.pem", "malformed"),
])
def test_alexa_certificate_url_rules(pki, cert_url, reason):
    from channels.alexa_signature import SignatureError

    with pytest.raises(SignatureError, match=reason):
        verifier_for(pki).verify(pki.headers(BODY, cert_url), BODY)


def test_alexa_accepts_amazons_url_variants(pki):
    for url in ("HTTPS://s3.amazonaws.com/echo.api/echo-api-cert.pem",
                "https://S3.AMAZONAWS.COM/echo.api/echo-api-cert.pem",
                "https://s3.amazonaws.com:443/echo.api/echo-api-cert.pem",
                "https://s3.amazonaws.com/echo.api/../echo.api/echo-api-cert.pem"):
        verifier_for(pki).verify(pki.headers(BODY, url), BODY)


def test_alexa_rejects_bad_signatures_and_bad_chains(pki):
    from channels.alexa_signature import SignatureError

    cases = {
        "tampered body": (verifier_for(pki), pki.headers(BODY), BODY.replace(b"Launch", b"Intent")),
        "no headers": (verifier_for(pki), {}, BODY),
        "not base64": (verifier_for(pki), {**pki.headers(BODY), "Signature-256": "***"}, BODY),
        "garbage signature": (verifier_for(pki), {**pki.headers(BODY), "Signature-256": "AAAA"}, BODY),
        "untrusted root": (verifier_for(pki, roots=[make_pki().root]), pki.headers(BODY), BODY),
        "not PEM": (verifier_for(pki, chain=b"not a certificate"), pki.headers(BODY), BODY),
    }
    expired = make_pki(leaf_valid_days=(-30, -1))
    cases["expired certificate"] = (verifier_for(expired), expired.headers(BODY), BODY)
    not_yet = make_pki(leaf_valid_days=(2, 30))
    cases["certificate not yet valid"] = (verifier_for(not_yet), not_yet.headers(BODY), BODY)
    other = make_pki(san="echo-api.example.com")
    cases["wrong subject alternative name"] = (verifier_for(other), other.headers(BODY), BODY)
    leaf_only = verifier_for(pki, chain=pki.chain_pem.split(b"-----END CERTIFICATE-----")[0]
                             + b"-----END CERTIFICATE-----\n")
    cases["chain without its intermediate"] = (leaf_only, pki.headers(BODY), BODY)
    for name, (verifier, headers, body) in cases.items():
        with pytest.raises(SignatureError):
            verifier.verify(headers, body)
            pytest.fail(f"{name} was accepted")


def test_alexa_fetch_failure_is_a_refusal_not_a_crash(pki):
    from channels.alexa_signature import AlexaSignatureVerifier, CertificateCache, SignatureError

    def down(url):
        raise OSError("network unreachable")

    with pytest.raises(SignatureError, match="could not fetch"):
        AlexaSignatureVerifier([pki.root], CertificateCache(fetch=down)).verify(pki.headers(BODY), BODY)


def test_alexa_default_roots_are_a_real_ca_bundle():
    from channels.alexa_signature import load_roots

    assert len(load_roots()) > 50


def test_alexa_verification_is_on_by_default_and_off_only_with_a_warning(caplog, tmp_path, pki):
    from channels.alexa import AlexaInput

    (tmp_path / "ca.pem").write_bytes(pki.root_pem)
    on = AlexaInput.from_credentials({"application_id": "amzn1.ask.skill.x", "trusted_ca_file": str(tmp_path / "ca.pem")})
    assert on.signatures is not None
    with caplog.at_level(logging.WARNING):
        off = AlexaInput.from_credentials({"application_id": "amzn1.ask.skill.x", "verify_signature": "false"})
    assert off.signatures is None and "NOT checked" in caplog.text


@pytest.mark.slow
def test_alexa_unsigned_forged_and_replayed_requests_are_refused_by_the_server(rasa_stack):
    from test_voice import alexa, envelope

    url = rasa_stack["url"]
    user = "amzn1.ask.account." + uuid.uuid4().hex
    body = json.dumps(envelope("LaunchRequest", user)).encode()
    forger = make_pki()  # a CA the server does not trust
    for name, headers in {"unsigned": {}, "forged chain": forger.headers(body),
                          "signature of another body": rasa_stack["pki"].headers(body + b" ")}.items():
        code, reply = alexa(url, body, headers=headers)
        assert code == 400 and "signature" in json.dumps(reply), name
    assert user not in stored_senders(rasa_stack["db"])
    signed = rasa_stack["pki"].headers(body)
    code, reply = alexa(url, body, headers=signed)
    assert code == 200 and reply["response"]["outputSpeech"]["ssml"].startswith("<speak>")
    code, reply = alexa(url, body, headers=signed)
    assert code == 400 and "replayed" in json.dumps(reply)


# -- the action server --------------------------------------------------------------------------
ACTION_CALL = {"next_action": "action_suggest_genres", "sender_id": "act-1", "version": "3.6.2",
               "tracker": {"sender_id": "act-1", "slots": {}, "latest_message": {}, "events": [],
                           "paused": False, "followup_action": None, "active_loop": {},
                           "latest_action_name": "action_listen"}, "domain": {}}


@pytest.mark.slow
def test_action_server_runs_actions_only_for_callers_with_the_shared_secret(action_server):
    header = {"X-Action-Token": TEST_SECRETS["ACTION_SERVER_TOKEN"]}
    for name, headers in {"no token": {}, "wrong token": {"X-Action-Token": "nope"},
                          "token in another header": {"Authorization": "Bearer " + header["X-Action-Token"]}}.items():
        code, body = call(action_server, "POST", ACTION_CALL, headers)
        assert code == 401, (name, code)
        assert "events" not in json.loads(body), "no action ran"
    assert call(action_server.replace("/webhook", "/actions"))[0] == 401
    code, body = call(action_server, "POST", ACTION_CALL, header)
    assert code == 200 and "events" in json.loads(body)
    assert call(action_server.replace("/webhook", "/health"))[0] == 200


def test_action_server_authorisation_rules():
    from actions.server import authorised

    assert authorised("s3cret", "s3cret", "10.1.2.3")
    assert not authorised(None, "s3cret", "127.0.0.1"), "with a token configured, loopback needs it too"
    assert not authorised("wrong", "s3cret", "127.0.0.1")
    assert authorised(None, None, "127.0.0.1") and authorised(None, None, "::1")
    assert not authorised(None, None, "10.1.2.3"), "without a token only loopback callers"
    assert not authorised(None, None, "")


@pytest.mark.slow
def test_action_server_refuses_to_listen_beyond_loopback_without_a_token():
    env = {k: v for k, v in os.environ.items() if k != "ACTION_SERVER_TOKEN"}
    out = subprocess.run([sys.executable, "-m", "actions.server", "--interface", "0.0.0.0", "--port",
                          str(free_port())], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "ACTION_SERVER_TOKEN" in out.stderr


# -- secrets and privacy ------------------------------------------------------------------------
def test_secrets_file_is_private_kept_overridable_and_rotatable(tmp_path, monkeypatch):
    from security import secrets as s

    path = tmp_path / ".secrets" / "local.env"
    first = s.init(path)
    assert set(s.SECRET_KEYS) <= set(first) and all(len(first[k]) >= 32 for k in s.SECRET_KEYS)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert s.init(path) == first, "init keeps the values already there"
    env = {"RASA_AUTH_TOKEN": "from-the-environment"}
    s.load_into_environ(path, env)
    assert env["RASA_AUTH_TOKEN"] == "from-the-environment" and env["ACTION_SERVER_TOKEN"] == first["ACTION_SERVER_TOKEN"]
    s.rotate(["RASA_AUTH_TOKEN"], path)
    after = s.read(path)
    assert after["RASA_AUTH_TOKEN"] != first["RASA_AUTH_TOKEN"]
    assert after["ACTION_SERVER_TOKEN"] == first["ACTION_SERVER_TOKEN"]
    with pytest.raises(s.SecretsError, match="unknown"):
        s.rotate(["NOT_A_SECRET"], path)
    path.write_text("this is not KEY=value\n")
    with pytest.raises(s.SecretsError, match="KEY=value"):
        s.read(path)
    with pytest.raises(s.SecretsError, match="security.secrets init"):
        s.require("RASA_AUTH_TOKEN", {})


def test_sender_hash_is_salted_and_stable():
    from security.secrets import SecretsError, sender_hash

    assert sender_hash("alice", "salt-1") == sender_hash("alice", "salt-1")
    assert sender_hash("alice", "salt-1") != sender_hash("alice", "salt-2")
    assert sender_hash("alice", "salt-1") != sender_hash("bob", "salt-1")
    assert "alice" not in sender_hash("alice", "salt-1")
    with pytest.raises(SecretsError):
        sender_hash("alice", "")


SECRET_PATTERNS = {
    "Twilio account SID": re.compile(r"\bAC[0-9a-f]{32}\b"),
    "Twilio API key": re.compile(r"\bSK[0-9a-f]{32}\b"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN (RSA |EC |OPENSSH |)PRIVATE KEY-----"),
    "Slack token": re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[0-9A-Za-z]{30,}"),
    "secret assigned a literal": re.compile(
        r"(?i)\b(auth_token|token|secret|password|api_key|salt)\b\s*[:=]\s*[\"']?(?!\$\{)[0-9a-f]{24,}\b"),
}


def tracked_files():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / p for p in out.stdout.decode().split("\0") if p]


def test_no_credentials_in_the_repository():
    files = tracked_files()
    assert len(files) > 50
    found = []
    for path in files:
        if path.suffix in {".parquet", ".png", ".gz", ".pkl", ".onnx", ".mp3", ".wav", ".ogg"} or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="ignore")
        found += [f"{path.relative_to(ROOT)}: {name}" for name, rx in SECRET_PATTERNS.items() if rx.search(text)]
    assert not found, found
    ignored = subprocess.run(["git", "check-ignore", "-q", ".secrets/local.env"], cwd=ROOT)
    assert ignored.returncode == 0, ".secrets/ must be git-ignored"


def test_the_secret_scan_finds_what_it_looks_for():
    leaks = ["TWILIO_ACCOUNT_SID=AC" + "0123456789abcdef" * 2, "auth_token: " + "ab12" * 8,
             "-----BEGIN RSA " + "PRIVATE KEY-----", "aws = AKIA" + "ABCDEFGHIJKLMNOP"]
    for leak in leaks:
        assert any(rx.search(leak) for rx in SECRET_PATTERNS.values()), leak
    assert not any(rx.search("auth_token: ${TWILIO_AUTH_TOKEN}") for rx in SECRET_PATTERNS.values())


def test_project_config_reads_secrets_from_the_environment():
    credentials = (ROOT / "rasa_project" / "credentials.yml").read_text()
    endpoints = (ROOT / "rasa_project" / "endpoints.yml").read_text()
    assert "auth_token: ${TWILIO_AUTH_TOKEN}" in credentials
    assert "application_id: ${ALEXA_APPLICATION_ID}" in credentials
    assert "X-Action-Token: ${ACTION_SERVER_TOKEN}" in endpoints
    makefile = (ROOT / "Makefile").read_text()
    assert '--auth-token "$$RASA_AUTH_TOKEN"' in makefile and "RASA_INTERFACE ?= 127.0.0.1" in makefile


def test_retention_deletes_only_conversations_idle_past_the_limit(tmp_path):
    import asyncio

    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from security.retention import purge

    store = SQLTrackerStore(Domain.load(str(ROOT / "domain.yml")), dialect="sqlite", db=str(tmp_path / "t.db"))
    now = 1_800_000_000.0
    for sender, age_days in (("old", 400), ("recent", 3), ("old-but-came-back", 400)):
        tracker = DialogueStateTracker(sender, [])
        tracker.update(UserUttered("hello", timestamp=now - age_days * 86400))
        if sender == "old-but-came-back":
            tracker.update(UserUttered("again", timestamp=now - 86400))
        asyncio.run(store.save(tracker))
    assert purge(store, 180 * 86400, now=now, dry_run=True) == ["old"]
    assert set(asyncio.run(store.keys())) == {"old", "recent", "old-but-came-back"}, "a dry run deletes nothing"
    assert purge(store, 180 * 86400, now=now) == ["old"]
    assert set(asyncio.run(store.keys())) == {"recent", "old-but-came-back"}
    kept = asyncio.run(store.retrieve("old-but-came-back"))
    assert [e.text for e in kept.events if isinstance(e, UserUttered)] == ["hello", "again"], "kept whole"


@pytest.mark.slow
def test_servers_are_not_started_without_their_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in TEST_SECRETS}
    env["MUSIC_SECRETS_FILE"] = str(tmp_path / "none.env")
    out = subprocess.run([sys.executable, "-m", "security.secrets", "exec", "--", "true"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "security.secrets init" in out.stderr
    (tmp_path / "some.env").write_text("ACTION_SERVER_TOKEN=abc\n")
    env["MUSIC_SECRETS_FILE"] = str(tmp_path / "some.env")
    out = subprocess.run([sys.executable, "-m", "security.secrets", "exec", "--require", "RASA_AUTH_TOKEN", "--",
                          "true"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "RASA_AUTH_TOKEN is not set" in out.stderr
    out = subprocess.run([sys.executable, "-m", "security.secrets", "exec", "--require", "ACTION_SERVER_TOKEN", "--",
                          sys.executable, "-c", "import os; print(os.environ['ACTION_SERVER_TOKEN'])"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "abc"
