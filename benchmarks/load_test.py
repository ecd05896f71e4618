"""Load test: simulated listeners holding whole conversations over the REST channel.

    scripts/stack_start.sh                      # or STACK=postgres scripts/stack_start.sh
    python benchmarks/load_test.py --levels 10 50 100 --conversations 100 --db conversations.db
    scripts/stack_stop.sh

Traffic goes only to the given loopback URL. Each level runs ``--conversations`` simulated
listeners (``simulator.listener`` + ``simulator.utterances``, the Rasa path of the simulator)
with at most ``level`` conversations open at once; each is capped at 40 turns and the
whole level at ``--max-seconds``. ``--think S``: each listener waits an exponentially
distributed time with mean S seconds before each answer, as a person reading a reply or
hearing a sample does, and listeners arrive at random over the same mean; the default 0 sends
messages back to back (a stress test: latency is then concurrency divided by throughput). Each
listener is its own client with its own keep-alive connection, as separate devices are. A
warm-up (``--warmup`` conversations, not counted) first lets the server processes load their
models. A turn's latency is the REST call that carries the listener's message until the
assistant's replies come back. Printed per level: turns/s,
p50/p95/p99 turn latency, errors, and lost events: messages sent minus user events found
in the tracker store afterwards (``--db``: a SQLite file or a PostgreSQL URL).
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class LoadBackend:
    """REST backend on aiohttp that times each message and counts what it sent."""

    def __init__(self, session, url: str, think: float = 0.0, seed: int = 0):
        self.session, self.url = session, url.rstrip("/")
        self.latencies: List[float] = []
        self.errors: List[str] = []
        self.sent: Dict[str, int] = {}
        self.think = think
        self.rng = np.random.default_rng(seed)

    def for_session(self, session) -> "LoadBackend":
        """The same counters, sent over another client's connection."""
        other = copy.copy(self)
        other.session = session
        return other

    async def send(self, sender: str, text: str):
        if self.think > 0 and not text.startswith("/"):
            # the listener reads the reply / hears the sample before answering
            await asyncio.sleep(float(self.rng.exponential(self.think)))
        t0 = time.perf_counter()
        try:
            async with self.session.post(self.url + "/webhooks/rest/webhook",
                                         json={"sender": sender, "message": text}) as r:
                body = await r.text()
                if r.status != 200:
                    self.errors.append(f"{r.status} {body[:100]}")
                    return []
                self.sent[sender] = self.sent.get(sender, 0) + 1
                return json.loads(body)
        except Exception as e:  # noqa: BLE001 - every failure is an error to count
            self.errors.append(repr(e))
            return []
        finally:
            self.latencies.append(time.perf_counter() - t0)

    async def events(self, sender: str):
        async with self.session.get(f"{self.url}/conversations/{sender}/tracker",
                                    params={"token": os.environ.get("RASA_AUTH_TOKEN", "")}) as r:
            return (await r.json()).get("events") or [] if r.status == 200 else []


async def run_level(url: str, assets, level: int, n: int, max_seconds: float, seed: int, think: float = 0.0):
    import aiohttp

    from simulator.rasa_path import run_conversation

    timeout = aiohttp.ClientTimeout(total=120)
    backend = LoadBackend(None, url, think, seed)  # counters only; each listener brings its session
    gate = asyncio.Semaphore(level)
    tag = uuid.uuid4().hex[:6]

    async def one(i):
        async with gate:
            if think > 0:  # listeners arrive at random, not all in the same millisecond
                await asyncio.sleep(float(backend.rng.exponential(think)))
            # each listener is its own client with its own keep-alive connection
            async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=1)) as own:
                await run_conversation(backend.for_session(own), assets, seed * 1_000_003 + i,
                                       f"load-{level}-{tag}-{i}")

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=max_seconds)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    elapsed = time.perf_counter() - t0
    return backend, elapsed, len(done), len(pending)


QUERY = "SELECT sender_id, COUNT(*) FROM events WHERE type_name = 'user' GROUP BY sender_id"


def stored_user_events(db: str, senders) -> Dict[str, int]:
    """User events per sender in the tracker store: a SQLite file, or postgresql://user@host:port/db."""
    if db.startswith("postgresql://"):
        import psycopg2

        with psycopg2.connect(db) as conn, conn.cursor() as cur:
            cur.execute(QUERY)
            counts = dict(cur.fetchall())
    else:
        import sqlite3

        with sqlite3.connect(db) as conn:
            counts = dict(conn.execute(QUERY).fetchall())
    return {s: counts.get(s, 0) for s in senders}


def main(argv=None):
    from security.secrets import load_into_environ

    load_into_environ()  # RASA_AUTH_TOKEN for the tracker endpoint
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:5005")
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 50, 100])
    ap.add_argument("--conversations", type=int, default=100)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--db", default=None, help="tracker store to count events in: a SQLite file, or "
                    "postgresql://postgres@127.0.0.1:5433/rasa for STACK=postgres")
    ap.add_argument("--seed", type=int, default=900)
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean seconds a listener takes before each answer (exponential); 0: back-to-back "
                         "messages, the stress case")
    ap.add_argument("--warmup", type=int, default=4,
                    help="conversations held first and not counted: each server process loads its models "
                         "on its first messages (seconds), which is start-up, not load")
    ap.add_argument("--reload-model", default=None,
                    help="a model file to swap in with PUT /model (as `make improve` deploys) during each level")
    ap.add_argument("--reload-after", type=float, default=5.0, help="seconds into each level to reload")
    a = ap.parse_args(argv)
    if not a.url.startswith(("http://127.0.0.1", "http://localhost")):
        sys.exit("the load test only sends traffic to loopback")
    from embeddings.assets import load_assets

    assets = load_assets()
    if a.warmup:
        t0 = time.perf_counter()
        backend, _, _, _ = asyncio.run(run_level(a.url, assets, 2, a.warmup, a.max_seconds, a.seed, 0.0))
        print(f"warm-up (not counted): {a.warmup} conversations in {time.perf_counter() - t0:.1f} s, first "
              f"turn {1000 * backend.latencies[0]:.0f} ms" if backend.latencies else "warm-up: no answer")
    print(f"think time: {a.think:g} s mean" + (" (back-to-back messages)" if a.think == 0 else ""))
    print("| concurrent | conversations done | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | lost events |")
    print("|---|---|---|---|---|---|---|---|---|")
    reloads = []
    for level in a.levels:
        timer = None
        if a.reload_model:
            import threading
            from pathlib import Path

            from policy_learning.deploy import DeployError, reload_server

            def reload():
                t = time.perf_counter()
                try:
                    reloads.append((level, reload_server(a.url, Path(a.reload_model).resolve(),
                                                         os.environ.get("RASA_AUTH_TOKEN")), time.perf_counter() - t))
                except DeployError as e:
                    reloads.append((level, f"FAILED: {e}", time.perf_counter() - t))

            timer = threading.Timer(a.reload_after, reload)
            timer.start()
        backend, elapsed, done, cut = asyncio.run(run_level(a.url, assets, level, a.conversations, a.max_seconds,
                                                            a.seed + level, a.think))
        lat = np.array(backend.latencies) * 1000 if backend.latencies else np.zeros(1)
        lost = "n/a"
        if a.db:
            time.sleep(1)
            stored = stored_user_events(a.db, backend.sent)
            lost = sum(max(0, backend.sent[s] - stored[s]) for s in backend.sent)
        print(f"| {level} | {done}{f' ({cut} cut at the time limit)' if cut else ''} | {len(backend.latencies)} | "
              f"{len(backend.latencies) / elapsed:.1f} | {np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} | "
              f"{np.percentile(lat, 99):.0f} | {len(backend.errors)} | {lost} |", flush=True)
        if timer is not None:
            timer.join()
    for level, result, seconds in reloads:
        print(f"model reload during the level with {level} concurrent conversations: {result} ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
