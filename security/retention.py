"""Retention: delete conversations nobody has touched for a while from the SQL tracker store.

    python -m security.retention --days 180 [--endpoints rasa_project/endpoints.yml] [--dry-run]

A conversation (all events of one sender) whose newest event is older than ``--days`` is
deleted whole, in one transaction; newer conversations are not touched. Export what the
learning loop needs first (``make export`` keeps only hashed ids and parsed meanings). Works on
the SQL tracker store (SQLite or PostgreSQL) through Rasa's own ``SQLTrackerStore`` model.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import List, Optional


def stale_senders(store, older_than_s: float, now: Optional[float] = None) -> List[str]:
    import sqlalchemy as sa

    cutoff = (time.time() if now is None else now) - older_than_s
    event = store.SQLEvent
    with store.session_scope() as session:
        rows = (session.query(event.sender_id).group_by(event.sender_id)
                .having(sa.func.max(event.timestamp) < cutoff).all())
    return sorted(r[0] for r in rows)


def purge(store, older_than_s: float, now: Optional[float] = None, dry_run: bool = False) -> List[str]:
    """Deletes the stale conversations; returns their sender ids."""
    senders = stale_senders(store, older_than_s, now)
    if senders and not dry_run:
        event = store.SQLEvent
        with store.session_scope() as session:
            for i in range(0, len(senders), 500):
                session.query(event).filter(event.sender_id.in_(senders[i:i + 500])).delete(synchronize_session=False)
            session.commit()
    return senders


def open_store(endpoints: str, domain_path: str = "domain.yml"):
    from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import read_endpoint_config

    store = TrackerStore.create(read_endpoint_config(endpoints, "tracker_store"), Domain.load(domain_path))
    store = getattr(store, "_tracker_store", store)  # Rasa wraps stores in a failsafe store
    if not isinstance(store, SQLTrackerStore):
        raise SystemExit(f"error: {endpoints} does not configure an SQL tracker store")
    return store


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=float, required=True, help="delete conversations idle for longer than this")
    p.add_argument("--endpoints", default="rasa_project/endpoints.yml")
    p.add_argument("--domain", default="domain.yml")
    p.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    a = p.parse_args(argv)
    if a.days <= 0:
        p.error("--days must be positive")
    from security.secrets import load_into_environ

    load_into_environ()  # endpoints.yml names ${ACTION_SERVER_TOKEN}
    senders = purge(open_store(a.endpoints, a.domain), a.days * 86400, dry_run=a.dry_run)
    print(f"{'would delete' if a.dry_run else 'deleted'} {len(senders)} conversation(s) idle for over {a.days:g} days")
    return 0


if __name__ == "__main__":
    sys.exit(main())
