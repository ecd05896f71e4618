"""Simulated listeners talking to the real Rasa assistant, in words.

    python -m simulator.rasa_path --conversations 40                  # in-process Agent + own action server
    python -m simulator.rasa_path --url http://127.0.0.1:5005 --conversations 40   # a running `rasa run --enable-api`

The same listeners as the fast path (``simulator.listener``, same seeds), but every reply is
said in natural language (``simulator.utterances``) and goes through the whole stack: NLU,
``RulePolicy`` + ``PromptSelectionPolicy``, the action server and the SQL tracker store. What
the assistant did (its prompt, the sample or station it played, the genres it offered) is
read back from the conversation's tracker. The outcome is the one the assistant recorded
(the ``outcome`` slot): it only counts as accepted when the NLU understood the acceptance.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from music_domain.prompts import PROMPT_BY_ACTION
from music_domain.dialogue_engine import Shown
from simulator.listener import draw_listener, opening, respond
from simulator.utterances import realise

MAX_TURNS = 40


class AgentBackend:
    """An in-process ``rasa.core.agent.Agent`` with an SQL tracker store."""

    def __init__(self, agent):
        self.agent = agent

    @classmethod
    async def load(cls, model: str, action_url: str, tracker_db: str) -> "AgentBackend":
        from rasa.core.agent import load_agent
        from rasa.core.utils import AvailableEndpoints
        from rasa.utils.endpoints import EndpointConfig

        from actions.server import action_endpoint

        endpoints = AvailableEndpoints(action=action_endpoint(action_url),
                                       tracker_store=EndpointConfig(type="SQL", dialect="sqlite", db=tracker_db))
        return cls(await load_agent(model, endpoints=endpoints))

    async def send(self, sender: str, text: str) -> List[Dict[str, Any]]:
        return await self.agent.handle_text(text, sender_id=sender)

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        tracker = await self.agent.tracker_store.retrieve(sender)
        return [e.as_dict() for e in tracker.events] if tracker else []


class RestBackend:
    """A running ``rasa run --enable-api``: the REST channel and the tracker endpoint (with the
    API token, ``RASA_AUTH_TOKEN``)."""

    def __init__(self, url: str, timeout: float = 30.0, token: Optional[str] = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.token = token

    def _request(self, path: str, body: Optional[dict] = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read().decode("utf-8"))

    async def send(self, sender: str, text: str) -> List[Dict[str, Any]]:
        return await asyncio.to_thread(self._request, "/webhooks/rest/webhook", {"sender": sender, "message": text})

    async def events(self, sender: str) -> List[Dict[str, Any]]:
        from urllib.parse import quote

        tracker = await asyncio.to_thread(self._request, f"/conversations/{quote(sender, safe='')}/tracker"
                                                        "?include_events=AFTER_RESTART"
                                                        + (f"&token={quote(self.token)}" if self.token else ""))
        return tracker.get("events") or []


@dataclass
class RasaConversation:
    sender: str
    outcome: str = "incomplete"
    listener_outcome: Optional[str] = None
    turns: int = 0
    prompts: List[str] = field(default_factory=list)
    intent_agreement: List[bool] = field(default_factory=list)


def what_was_shown(events: List[Dict[str, Any]], assets) -> tuple:
    """(prompt, shown, outcome) for the assistant's last turn: the events after the last user
    message, read back into the engine's ``Shown``."""
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    prompt, outcome = None, None
    shown = Shown("")
    for e in events[last_user + 1:]:
        if e.get("event") == "action" and e.get("name") in PROMPT_BY_ACTION:
            prompt = PROMPT_BY_ACTION[e["name"]].name
        elif e.get("event") == "action" and e.get("name") == "action_relax_constraint":
            prompt = "play_sample"  # the listener agreed to drop a constraint: a sample follows
        elif e.get("event") == "slot":
            name, value = e.get("name"), e.get("value")
            if name == "last_sample" and value:
                shown.row = assets.row_of(value)
            elif name == "offered_genres" and value:
                shown.genres = list(value)[-2:]
            elif name == "station" and value:
                shown.rows = [r for r in (assets.row_of(t) for t in value) if r is not None]
            elif name == "pending_relax" and value:
                shown.relax = value
            elif name == "outcome" and value:
                outcome = value
    if prompt is not None:
        shown.prompt = prompt
    return prompt, shown, outcome


def parsed_intent(events: List[Dict[str, Any]]) -> Optional[str]:
    for e in reversed(events):
        if e.get("event") == "user":
            return ((e.get("parse_data") or {}).get("intent") or {}).get("name")
    return None


async def run_conversation(backend, assets, seed: int, sender: str, max_turns: int = MAX_TURNS
                           ) -> RasaConversation:
    rng = np.random.default_rng(seed)
    listener = draw_listener(assets, rng)
    conv = RasaConversation(sender)
    await backend.send(sender, "/restart")
    meaning = opening(listener)
    while True:
        await backend.send(sender, realise(meaning, rng, listener.traits.style))
        events = await backend.events(sender)
        conv.intent_agreement.append(parsed_intent(events) == meaning.intent)
        prompt, shown, outcome = what_was_shown(events, assets)
        if outcome:
            conv.outcome = outcome
            break
        if listener.done is not None or listener.turns >= max_turns:
            break
        if prompt is None:  # not understood ("please rephrase"): say it again, another way
            listener.turns += 1
            if listener.turns > listener.traits.patience:
                meaning = type(meaning)("stop", {}, -0.4)
                listener.done = "abandoned"
            continue
        conv.prompts.append(prompt)
        meaning = respond(listener, prompt, assets.arrays, shown)
    conv.listener_outcome = listener.done
    conv.turns = listener.turns
    return conv


async def simulate(backend, assets, n: int, seed: int = 500, prefix: str = "rasa-sim") -> List[RasaConversation]:
    return [await run_conversation(backend, assets, seed * 1_000_003 + i, f"{prefix}-{seed}-{i}")
            for i in range(n)]


def summarise(convs: List[RasaConversation]) -> Dict[str, float]:
    success = np.array([c.outcome == "accepted" for c in convs], dtype=float)
    turns = np.array([c.turns for c in convs], dtype=float)
    agree = np.concatenate([c.intent_agreement for c in convs]) if convs else np.zeros(0)
    return {"conversations": len(convs), "success": float(success.mean()), "mean_turns": float(turns.mean()),
            "abandoned": float(np.mean([c.outcome == "abandoned" for c in convs])),
            "incomplete": float(np.mean([c.outcome == "incomplete" for c in convs])),
            "nlu_intent_agreement": float(agree.mean()) if len(agree) else float("nan"),
            "outcome_agreement": float(np.mean([(c.outcome == "accepted") == (c.listener_outcome == "accepted")
                                                for c in convs]))}


def _start_action_server(port: int):
    proc = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket

    deadline = time.time() + 120
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the action server did not start")


async def _main(a) -> Dict[str, float]:
    from embeddings.assets import load_assets

    assets = load_assets()
    proc = None
    if a.url:
        from security.secrets import load_into_environ

        backend = RestBackend(a.url, token=load_into_environ(environ=dict(os.environ)).get("RASA_AUTH_TOKEN"))
    else:
        from pathlib import Path

        models = sorted(Path("models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not a.model and not models:
            raise SystemExit("no trained model in models/; run `make train`")
        action_url = a.actions_url
        if not action_url:
            proc = _start_action_server(a.actions_port)
            action_url = f"http://127.0.0.1:{a.actions_port}/webhook"
        backend = await AgentBackend.load(str(a.model or models[-1]), action_url, a.tracker_db)
    try:
        t0 = time.time()
        convs = await simulate(backend, assets, a.conversations, a.seed)
        summary = summarise(convs)
        summary["seconds"] = time.time() - t0
    finally:
        if proc is not None:
            proc.terminate()
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conversations", type=int, default=40)
    p.add_argument("--seed", type=int, default=500)
    p.add_argument("--url", default=None, help="a running Rasa server (REST channel + --enable-api)")
    p.add_argument("--model", default=None)
    p.add_argument("--actions-url", default=None)
    p.add_argument("--actions-port", type=int, default=5056)
    p.add_argument("--tracker-db", default="simulated_conversations.db")
    a = p.parse_args(argv)
    summary = asyncio.run(_main(a))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
