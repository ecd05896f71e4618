"""Fault test of the running stack: a dead action server, a Rasa restart, concurrent messages.

    python benchmarks/fault_test.py                 # starts STACK=postgres itself, stops it after
    python benchmarks/fault_test.py --stack sqlite  # one Rasa process, SQLite (no ordering check)

Starts the whole stack with ``scripts/stack_start.sh`` (PostgreSQL tracker store, Redis
lock store, two Rasa server processes on one port), then, talking only to 127.0.0.1:

1. **Action server killed mid-conversation.** A listener asks for music; the action server
   is killed (SIGKILL); the next message, which needs a custom action, must still get a
   non-empty reply. The action server is started again and the same conversation must go
   on to play a sample.
2. **Rasa restarted mid-run.** ``--listeners`` simulated listeners hold conversations while
   ``rasa run`` is stopped (SIGTERM to the server processes, as a deploy does) and started
   again. The listeners answer at a person's pace (2 s on average), so conversations are open
   when the servers stop and go on after the restart (both are required: conversations open
   at the stop, messages answered after it). Clients retry a message whose connection
   failed, as a channel would. Afterwards,
   every message acknowledged with HTTP 200 must be a user event in the tracker store, and
   every conversation's events from before the restart must still be there, unchanged.
   (A message whose connection dropped during the stop may have been processed before it;
   its retry is then stored twice. These are counted as duplicates: at-least-once delivery.)
3. **Ordering under the lock store.** ``--burst`` messages to one conversation are sent
   30 ms apart without waiting for replies, so both server processes take them; the
   tracker must hold them in sending order, each followed by its own replies before the
   next user message (no interleaving).

Prints one line per check with its figures; exits 1 if any check fails.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load_test import stored_user_events  # noqa: E402
from security.secrets import load_into_environ  # noqa: E402

RUN = ROOT / ".stack"
CUSTOM_ACTIONS = set(__import__("yaml").safe_load((ROOT / "domain.yml").read_text())["actions"])
PG_URL = "postgresql://postgres@127.0.0.1:5433/rasa"


def sh(*cmd, env=None, check=True):
    return subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, check=check,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def pid_of(name: str) -> int:
    return int((RUN / f"{name}.pid").read_text().strip())


def children(pid: int) -> List[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE, text=True).stdout
    return [int(p) for p in out.split()]


def wait_http(url: str, seconds: float) -> None:
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(1)
    raise RuntimeError(f"{url} did not come up in {seconds:.0f}s")


def start_actions(port: int) -> None:
    log = open(RUN / "actions.log", "a")
    p = subprocess.Popen([str(ROOT / ".venv/bin/python"), "-m", "actions.server",
                          "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    (RUN / "actions.pid").write_text(str(p.pid))
    wait_http(f"http://127.0.0.1:{port}/health", 120)


def start_rasa(port: int, workers: int) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "RASA_TELEMETRY_ENABLED": "false"}
    if workers > 1:
        env["SANIC_WORKERS"] = str(workers)
    log = open(RUN / "rasa.log", "a")
    p = subprocess.Popen([str(ROOT / ".venv/bin/rasa"), "run", "--model", "models", "--endpoints",
                          str(RUN / "endpoints.yml"), "--credentials", "rasa_project/credentials.yml",
                          "--interface", "127.0.0.1", "--port", str(port), "--enable-api",
                          "--auth-token", os.environ["RASA_AUTH_TOKEN"]],
                         cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    (RUN / "rasa.pid").write_text(str(p.pid))
    wait_http(f"http://127.0.0.1:{port}/status?token={os.environ['RASA_AUTH_TOKEN']}", 400)


class Client:
    """REST client that retries a message whose connection failed (not one that got an answer)."""

    def __init__(self, session, url: str, think: float = 0.0):
        self.session, self.url = session, url
        self.think = think  # mean seconds before each message (exponential), a listener's pace
        self.rng = np.random.default_rng(7)
        self.acked_at: List[float] = []
        self.acked: Dict[str, int] = {}
        self.errors: List[str] = []
        self.retries = 0

    async def send(self, sender: str, text: str, attempts: int = 60):
        import aiohttp

        if self.think > 0:
            await asyncio.sleep(float(self.rng.exponential(self.think)))
        for _ in range(attempts):
            try:
                async with self.session.post(self.url + "/webhooks/rest/webhook",
                                             json={"sender": sender, "message": text}) as r:
                    body = await r.text()
                    if r.status != 200:
                        self.errors.append(f"{sender}: {r.status} {body[:80]}")
                        return []
                    self.acked[sender] = self.acked.get(sender, 0) + 1
                    self.acked_at.append(time.time())
                    return json.loads(body)
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                self.retries += 1
                await asyncio.sleep(2)
        self.errors.append(f"{sender}: no answer after {attempts} attempts")
        return []

    async def events(self, sender: str, attempts: int = 60):
        import aiohttp

        for _ in range(attempts):
            try:
                async with self.session.get(f"{self.url}/conversations/{sender}/tracker",
                                            params={"include_events": "ALL",
                                                    "token": os.environ["RASA_AUTH_TOKEN"]}) as r:
                    return (await r.json()).get("events") or []
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                self.retries += 1
                await asyncio.sleep(2)
        raise RuntimeError(f"no tracker for {sender} after {attempts} attempts")


def _texts(replies) -> List[str]:
    return [r.get("text") or "" for r in replies]


async def check_dead_action_server(url: str, actions_port: int) -> Dict:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as s:
        c = Client(s, url)
        sender = f"fault-actions-{uuid.uuid4().hex[:6]}"
        await c.send(sender, "help me find music")
        os.killpg(pid_of("actions"), signal.SIGKILL)
        time.sleep(1)
        while_down = _texts(await c.send(sender, "something upbeat, rock from the 90s"))
        start_actions(actions_port)
        mark = len(await c.events(sender))
        resumed = []
        for text in ("play me something upbeat", "rock please", "something from the 90s", "surprise me"):
            await c.send(sender, text)
            resumed = _custom_actions_answered(await c.events(sender), mark)
            if resumed:
                break
    ok = bool(any(t.strip() for t in while_down)) and bool(resumed) and not c.errors
    return {"check": "dead action server", "ok": ok, "reply while down": " / ".join(while_down)[:120],
            "custom actions answered after restart": resumed, "errors": c.errors}


def _custom_actions_answered(events, start: int) -> List[str]:
    """Custom actions after ``start`` whose own message came back (the action server answered)."""
    out = []
    for e, nxt in zip(events[start:], events[start + 1:]):
        name = e.get("name") or ""
        if e.get("event") == "action" and name in CUSTOM_ACTIONS and nxt.get("event") == "bot":
            out.append(name)
    return out


async def check_rasa_restart(url: str, rasa_port: int, workers: int, db: str, listeners: int) -> Dict:
    import aiohttp

    from embeddings.assets import load_assets
    from simulator.rasa_path import run_conversation

    assets = load_assets()
    tag = uuid.uuid4().hex[:6]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=180)) as s:
        c = Client(s, url, think=2.0)  # at a listener's pace, so conversations span the restart
        senders = [f"fault-restart-{tag}-{i}" for i in range(listeners)]
        tasks = [asyncio.create_task(run_conversation(c, assets, 4242 + i, sender))
                 for i, sender in enumerate(senders)]
        await asyncio.sleep(15)  # conversations under way
        # only conversations with an answered message have a stored tracker; for the others the
        # tracker endpoint returns a fresh session that is not stored yet
        before = {sd: await c.events(sd) for sd in senders if c.acked.get(sd, 0) > 1}
        loop = asyncio.get_running_loop()
        t0 = time.time()
        open_at_stop = sum(not t.done() for t in tasks)
        rasa = pid_of("rasa")
        await loop.run_in_executor(None, lambda: (os.killpg(rasa, signal.SIGTERM), _wait_gone(rasa)))
        await loop.run_in_executor(None, start_rasa, rasa_port, workers)
        downtime = time.time() - t0
        results = await asyncio.gather(*tasks, return_exceptions=True)
        after = {sd: await c.events(sd) for sd in senders}
    crashed = [repr(r) for r in results if isinstance(r, Exception)]
    stored = stored_user_events(db, senders)
    lost = sum(max(0, c.acked.get(sd, 0) - stored[sd]) for sd in senders)
    changed = sum(1 for sd in before if _strip(after[sd][:len(before[sd])]) != _strip(before[sd]))
    acked_after = sum(1 for t in c.acked_at if t > t0)
    ok = (lost == 0 and changed == 0 and len(before) > 0 and not crashed and not c.errors
          and open_at_stop > 0 and acked_after > 0)
    return {"check": "rasa restart", "ok": ok, "conversations": listeners,
            "acknowledged messages": sum(c.acked.values()), "user events stored": sum(stored.values()),
            "lost": lost, "duplicates": sum(max(0, stored[sd] - c.acked.get(sd, 0)) for sd in senders),
            "conversations open when stopped": open_at_stop, "messages answered after the restart": acked_after,
            "trackers snapshotted before the restart": len(before), "of them changed": changed, "retries": c.retries,
            "restart s": round(downtime, 1), "errors": (c.errors + crashed)[:5]}


def _strip(events):
    return [(e.get("event"), e.get("name"), e.get("text"), e.get("timestamp")) for e in events]


def _wait_gone(pid: int, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(pid, signal.SIGKILL)


BURST = ["help me find music", "something upbeat", "rock please", "from the 90s", "no not that",
         "something for a workout", "more like that", "jazz maybe", "I don't know", "surprise me",
         "something laid back", "electronic", "yes", "no", "something from the 80s", "pop"]


async def check_ordering(url: str, burst: int) -> Dict:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as s:
        c = Client(s, url)
        sender = f"fault-order-{uuid.uuid4().hex[:6]}"
        texts = [f"{BURST[i % len(BURST)]}" for i in range(burst)]

        async def later(i, text):
            await asyncio.sleep(0.03 * i)
            return await c.send(sender, text)

        replies = await asyncio.gather(*(later(i, t) for i, t in enumerate(texts)))
        events = await c.events(sender)
        servers = len(children(pid_of("rasa")))  # the worker processes under `rasa run`
    users = [e.get("text") for e in events if e.get("event") == "user"]
    # between two user messages the assistant's turn ends with action_listen: nothing interleaved
    interleaved = 0
    seen_user = False
    for e in events:
        if e.get("event") == "user":
            if seen_user:
                interleaved += 1
            seen_user = True
        elif e.get("event") == "action" and e.get("name") == "action_listen":
            seen_user = False
    ok = users == texts and interleaved == 0 and all(replies) and not c.errors
    return {"check": "ordering with the lock store", "ok": ok, "messages": burst, "stored in order": users == texts,
            "interleaved turns": interleaved, "unanswered": sum(1 for r in replies if not r),
            "server processes": servers, "errors": c.errors[:5]}


def main(argv=None) -> int:
    load_into_environ()  # the API token and the action server's secret, as stack_start.sh uses them
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stack", choices=["postgres", "sqlite"], default="postgres")
    ap.add_argument("--listeners", type=int, default=20)
    ap.add_argument("--burst", type=int, default=12)
    ap.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    a = ap.parse_args(argv)
    rasa_port, actions_port = int(os.environ.get("RASA_PORT", 5005)), int(os.environ.get("ACTIONS_PORT", 5055))
    url = f"http://127.0.0.1:{rasa_port}"
    workers = 2 if a.stack == "postgres" else 1
    db = PG_URL if a.stack == "postgres" else str(ROOT / "conversations.db")
    t0 = time.time()
    start = sh("scripts/stack_start.sh", env={"STACK": a.stack}, check=False)
    if start.returncode != 0:
        print(start.stdout)
        print("error: the stack did not start")
        return 1
    print(f"stack up ({a.stack}, {workers} Rasa server process(es)) in {time.time() - t0:.0f}s", flush=True)
    results = []
    try:
        results.append(asyncio.run(check_dead_action_server(url, actions_port)))
        print(json.dumps(results[-1]), flush=True)
        results.append(asyncio.run(check_rasa_restart(url, rasa_port, workers, db, a.listeners)))
        print(json.dumps(results[-1]), flush=True)
        if workers > 1:
            results.append(asyncio.run(check_ordering(url, a.burst)))
            print(json.dumps(results[-1]), flush=True)
        else:
            print("ordering check skipped: it needs two server processes and the lock store (--stack postgres)")
    finally:
        if not a.keep:
            sh("scripts/stack_stop.sh", check=False)
    failed = [r["check"] for r in results if not r["ok"]]
    print(f"{len(results) - len(failed)}/{len(results)} fault checks passed" + (f"; FAILED: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
