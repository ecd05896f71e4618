"""The project's secrets: one git-ignored file for local development, the environment in production.

Every secret the assistant needs is read from an environment variable; nothing is committed.
For local development ``./setup.sh`` runs ``python -m security.secrets init``, which writes
random values to ``.secrets/local.env`` (mode 600, ``KEY=value`` lines, git-ignored). A variable
already set in the environment always wins over the file, so production sets the real values
(the Twilio account's auth token, the Alexa skill id) and never touches the file.

    python -m security.secrets init                 # create the file, keep values already there
    python -m security.secrets rotate RASA_AUTH_TOKEN ACTION_SERVER_TOKEN   # new random values
    python -m security.secrets exec -- CMD ARGS...  # run CMD with the secrets as environment defaults
    python -m security.secrets exec --require RASA_AUTH_TOKEN -- CMD   # ... and refuse if one is empty
    python -m security.secrets get RASA_AUTH_TOKEN  # print one value (for curl in a shell)

After a rotation restart what reads the value (``make run``, the action server, the stack).
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

ROOT = Path(__file__).resolve().parents[1]
SECRETS_FILE = Path(os.environ.get("MUSIC_SECRETS_FILE", ROOT / ".secrets" / "local.env"))

#: every secret, and what it protects
SECRET_KEYS: Dict[str, str] = {
    "RASA_AUTH_TOKEN": "Rasa's HTTP API (--auth-token): trackers, events, model replacement",
    "ACTION_SERVER_TOKEN": "shared secret the Rasa server sends to the action server (X-Action-Token)",
    "TWILIO_AUTH_TOKEN": "the Twilio account's auth token, which signs X-Twilio-Signature",
    "SENDER_HASH_SALT": "salt of the sender hash in exported training logs",
}
#: settings that are not secret but have a local default
LOCAL_DEFAULTS: Dict[str, str] = {
    "ALEXA_APPLICATION_ID": "amzn1.ask.skill.music-recommender-local",
}
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")


class SecretsError(RuntimeError):
    """A secret is missing or the secrets file is malformed; the message says how to fix it."""


def read(path: Path = SECRETS_FILE) -> Dict[str, str]:
    """``KEY=value`` lines of ``path`` (comments and blank lines skipped); {} when it is absent."""
    if not path.exists():
        return {}
    values: Dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not _KEY.match(key.strip()):
            raise SecretsError(f"{path}:{n}: expected KEY=value")
        values[key.strip()] = value.strip()
    return values


def _write(path: Path, values: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Local development secrets (git-ignored). Environment variables override these.",
             "# Rotate: python -m security.secrets rotate KEY ...   then restart the servers."]
    lines += [f"{k}={v}" for k, v in values.items()]
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def init(path: Path = SECRETS_FILE) -> Dict[str, str]:
    """Create or complete the local secrets file; values already there are kept."""
    values = read(path)
    missing = {k: secrets.token_hex(24) for k in SECRET_KEYS if not values.get(k)}
    missing.update({k: v for k, v in LOCAL_DEFAULTS.items() if not values.get(k)})
    if missing or not path.exists():
        _write(path, {**values, **missing})
    return {**values, **missing}


def rotate(keys: Iterable[str], path: Path = SECRETS_FILE) -> List[str]:
    keys = list(keys) or list(SECRET_KEYS)
    unknown = [k for k in keys if k not in SECRET_KEYS]
    if unknown:
        raise SecretsError(f"unknown secret(s) {unknown}; known: {sorted(SECRET_KEYS)}")
    values = init(path)
    values.update({k: secrets.token_hex(24) for k in keys})
    _write(path, values)
    return keys


def load_into_environ(path: Path = SECRETS_FILE, environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """Put the file's values into the environment where a variable is not set already."""
    env = os.environ if environ is None else environ
    for key, value in read(path).items():
        if not env.get(key):
            env[key] = value
    return env  # type: ignore[return-value]


def require(key: str, environ: Optional[Mapping[str, str]] = None) -> str:
    value = (os.environ if environ is None else environ).get(key, "")
    if not value:
        raise SecretsError(f"{key} is not set ({SECRET_KEYS.get(key, 'a setting')}). Set it in the environment, "
                           f"or run `python -m security.secrets init` for local development.")
    return value


def sender_hash(sender_id: str, salt: str) -> str:
    """A salted, keyed hash of a sender id: stable for one salt, useless without it."""
    if not salt:
        raise SecretsError("SENDER_HASH_SALT is empty; a sender hash without a salt could be reversed by guessing ids")
    return hmac.new(salt.encode("utf-8"), str(sender_id).encode("utf-8", "surrogatepass"),
                    hashlib.sha256).hexdigest()[:32]


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m security.secrets", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or complete .secrets/local.env")
    r = sub.add_parser("rotate", help="new random values for the named secrets (all when none named)")
    r.add_argument("keys", nargs="*")
    g = sub.add_parser("get", help="print one value (environment first, then the file)")
    g.add_argument("key")
    e = sub.add_parser("exec", help="run a command with the secrets as environment defaults")
    e.add_argument("--require", action="append", default=[], metavar="KEY",
                   help="refuse to run when KEY is still empty (e.g. the API token of `rasa run --enable-api`)")
    e.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    try:
        if args.command == "init":
            init()
            print(f"secrets in {SECRETS_FILE} (mode 600, git-ignored)")
        elif args.command == "rotate":
            print("rotated " + ", ".join(rotate(args.keys)) + "; restart the servers that use them")
        elif args.command == "get":
            print(require(args.key, load_into_environ(environ=dict(os.environ))))
        else:
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            if not cmd:
                p.error("exec needs a command")
            if not SECRETS_FILE.exists() and not all(os.environ.get(k) for k in SECRET_KEYS):
                raise SecretsError(f"{SECRETS_FILE} is missing; run ./setup.sh or `python -m security.secrets init`")
            load_into_environ()
            for key in args.require:
                require(key)
            os.execvp(cmd[0], cmd)
    except SecretsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
