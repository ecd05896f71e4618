"""The action server, accepting calls only from the Rasa server.

    python -m actions.server [--port 5055] [--interface 127.0.0.1]

rasa-sdk's own app (``rasa_sdk.endpoint.create_app``) with one addition: every call to
``/webhook`` and ``/actions`` must carry the shared secret ``ACTION_SERVER_TOKEN`` in the
``X-Action-Token`` header, which the Rasa server sends from ``rasa_project/endpoints.yml``
(``headers: {X-Action-Token: ${ACTION_SERVER_TOKEN}}``). A call without it, or with a wrong
one, gets a 401 before any action runs. ``/health`` stays open for probes. A call whose body
is not an action call (a JSON object with ``next_action`` and a ``tracker`` object) gets a 400
instead of rasa-sdk's 500, and bodies over ``ACTION_SERVER_MAX_BYTES`` (16 MiB) a 413.

It binds 127.0.0.1 unless told otherwise (``--interface`` or ``ACTION_SERVER_INTERFACE``).
Without a token it serves loopback callers only, and it refuses to bind any other interface.
"""
from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import os
from typing import Any, Optional

from sanic import Sanic, response
from sanic.exceptions import InvalidUsage

from rasa_runtime.environment import quiet_dependencies

quiet_dependencies()  # after sanic's import, which turns dependencies' deprecation warnings on

from rasa_sdk.endpoint import create_app  # noqa: E402 - imports sanic_cors, which warns

logger = logging.getLogger(__name__)
TOKEN_HEADER = "X-Action-Token"
PROTECTED = ("/webhook", "/actions")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def authorised(presented: Optional[str], token: Optional[str], remote_ip: str) -> bool:
    """A call is let through with the right token, or from loopback when no token is configured."""
    if token:
        return presented is not None and hmac.compare_digest(presented.encode(), token.encode())
    return _is_loopback(remote_ip)


def action_call_problem(call: Any) -> Optional[str]:
    """Why the parsed body ``call`` is not an action call Rasa would send, or None."""
    if not isinstance(call, dict):
        return "body must be a JSON object"
    if not isinstance(call.get("next_action"), str):
        return "'next_action' must be a string"
    if not isinstance(call.get("tracker"), dict):
        return "'tracker' must be an object"
    for key, kind in (("domain", dict), ("version", str), ("sender_id", str)):
        if key in call and call[key] is not None and not isinstance(call[key], kind):
            return f"'{key}' must be a {kind.__name__}"
    return None


def create_server(action_package: str = "actions", token: Optional[str] = None) -> Sanic:
    app = create_app(action_package, cors_origins=None)
    app.config.REQUEST_MAX_SIZE = int(os.environ.get("ACTION_SERVER_MAX_BYTES", 16 << 20))

    @app.middleware("request")
    async def require_token(request):
        path = request.path.rstrip("/")
        if path in PROTECTED and not authorised(request.headers.get(TOKEN_HEADER), token, request.ip or ""):
            return response.json({"error": f"unauthorised: a valid {TOKEN_HEADER} header is required"}, status=401)
        if path == "/webhook" and request.method == "POST" and request.headers.get("Content-Encoding") != "deflate":
            try:  # parsed once: Sanic keeps it for rasa-sdk's handler
                problem = action_call_problem(request.json)
            except InvalidUsage:
                problem = "body is not JSON"
            if problem:
                return response.json({"error": f"not an action call: {problem}"}, status=400)
        return None

    return app


def action_endpoint(url: str):
    """Rasa's ``EndpointConfig`` for the action server at ``url``, sending the shared secret from the
    environment (what ``endpoints.yml`` does for ``rasa run``)."""
    from rasa.utils.endpoints import EndpointConfig

    token = os.environ.get("ACTION_SERVER_TOKEN")
    return EndpointConfig(url, headers={TOKEN_HEADER: token} if token else None)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--actions", default="actions")
    p.add_argument("--port", type=int, default=int(os.environ.get("ACTION_SERVER_PORT", 5055)))
    p.add_argument("--interface", default=os.environ.get("ACTION_SERVER_INTERFACE", "127.0.0.1"))
    args = p.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    token = os.environ.get("ACTION_SERVER_TOKEN") or None
    if token is None and not _is_loopback(args.interface):
        p.error(f"refusing to listen on {args.interface} without ACTION_SERVER_TOKEN: "
                "set it here and in the Rasa server's environment (endpoints.yml sends it)")
    if token is None:
        logger.warning("ACTION_SERVER_TOKEN is not set: serving loopback callers only")
    app = create_server(args.actions, token)
    logger.info("action server on http://%s:%d (token %s)", args.interface, args.port,
                "required" if token else "not set")
    app.run(args.interface, args.port, workers=1, access_log=False, motd=False)


if __name__ == "__main__":
    main()
