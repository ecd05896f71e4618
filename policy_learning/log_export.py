"""Export logged prompt decisions from the tracker store to Parquet, with rewards.

    python -m policy_learning.log_export --endpoints rasa_project/endpoints.yml \\
        --out data/logs/exported.parquet

Reads every conversation in the tracker store configured in ``endpoints.yml`` (SQLite by
default; PostgreSQL with ``--endpoints rasa_project/endpoints.postgres.yml``), replays its events exactly as the
policy and the action server do (``music_domain.tracker_replay``), and writes one row per
prompt decision in the one log schema (``policy_learning.log_schema``) that the simulator's
logs (``simulator.fast_path``) also use, so the same training and off-policy evaluation read both.

- Every session of a sender is one conversation. Its ``outcome`` is ``accepted``
  (``action_start_station``), ``abandoned`` (``action_abandon``) or ``incomplete`` (cut off:
  the server was killed or the listener walked away). Incomplete conversations are exported,
  counted, given reward 0 and skipped by training; they are never counted as failures.
- A prompt action whose ``ActionExecuted`` carries no or corrupt ``prompt_policy`` metadata
  is reported with its conversation id and event index and left out of the rows.
- No raw sender id leaves the store: ``user_hash`` is a salted, keyed hash
  (``security.secrets.sender_hash``, HMAC-SHA-256) and the conversation id is built from it.
  The salt is ``--salt`` or ``$SENDER_HASH_SALT`` (locally from ``.secrets/local.env``), so
  repeated exports agree and nobody without the salt can test a guessed id.
- No raw utterance text leaves the store either: a reply is exported as its parsed meaning.
  ``--include-text`` adds the listener's words (``reply_text``) for an NLU study, on purpose.
- Idempotent: the same store gives the same rows, in the same order.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pandas as pd

from policy_learning.log_schema import decision_problem, decision_rows, to_frame
from policy_learning.rewards import label_conversation
from music_domain.tracker_replay import apply_event, listener_id, meaning_from_parse
from music_domain.dialogue_state import ALL_FEATURES, DialogueState
from music_domain.prompts import PROMPT_BY_ACTION
from security.secrets import load_into_environ, require, sender_hash

RASA_COMMAND_INTENTS = {"restart", "back", "session_start"}
# How a conversation ended: the ``outcome`` slot its closing action set (action_start_station sets
# "accepted", action_abandon "abandoned"). The slot, not the action: "start it" before anything was
# played runs action_start_station without starting anything.
OUTCOMES = ("accepted", "abandoned")


def hash_user(user_id: str, salt: str) -> str:
    return sender_hash(user_id, salt)


def resolve_salt(salt: Optional[str] = None) -> str:
    return salt or require("SENDER_HASH_SALT", load_into_environ(environ=dict(os.environ)))


@dataclass
class ExportReport:
    conversations: int = 0
    decisions: int = 0
    outcomes: Dict[str, int] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return (f"exported {self.decisions} prompt decisions from {self.conversations} conversations "
                f"({parts}); {len(self.problems)} problem(s)")


def _check_metadata(meta: Any, action: str) -> Tuple[Optional[dict], Optional[str]]:
    """The prompt decision in an ActionExecuted's metadata, or why it is unusable."""
    if not isinstance(meta, dict) or "prompt_policy" not in meta:
        return None, f"{action} has no prompt_policy metadata"
    d = meta["prompt_policy"]
    if not isinstance(d, dict):
        return None, f"{action}: prompt_policy metadata is not a mapping"
    prompt = PROMPT_BY_ACTION[action].name
    if d.get("prompt") != prompt:
        return None, f"{action}: metadata names prompt {d.get('prompt')!r}"
    try:
        propensity = float(d["propensity"])
    except (KeyError, TypeError, ValueError):
        return None, f"{action}: missing or non-numeric propensity"
    feats = d.get("features")
    if not isinstance(feats, list) or len(feats) != len(ALL_FEATURES):
        return None, f"{action}: features missing or not {len(ALL_FEATURES)} long"
    try:
        feats = [float(x) for x in feats]
        probs = [float(x) for x in d.get("probabilities") or []]
    except (TypeError, ValueError):
        return None, f"{action}: non-numeric features or probabilities"
    if not all(math.isfinite(x) for x in feats):
        return None, f"{action}: non-finite features"
    if not d.get("policy_version"):
        return None, f"{action}: no policy_version"
    problem = decision_problem(prompt, propensity, probs)
    if problem:
        return None, f"{action}: {problem}"
    empathy = meta.get("empathy") if isinstance(meta.get("empathy"), dict) else {}
    return {"prompt": prompt, "propensity": propensity, "features": feats, "probabilities": probs,
            "empathy_score": float(empathy.get("score", float("nan"))), "closeness_band": empathy.get("band"),
            "policy": str(d.get("policy", "unknown")), "policy_version": str(d["policy_version"]),
            "turn": d.get("turn")}, None


def split_sessions(events: List[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    """A sender's events cut into conversations at each session start or restart."""
    sessions: List[List[Dict[str, Any]]] = [[]]
    for e in events:
        if e.get("event") in ("session_started", "restart") and sessions[-1]:
            sessions.append([])
        sessions[-1].append(e)
    return [s for s in sessions if any(_listener_message(e) for e in s)]


def _listener_message(event: Dict[str, Any]) -> bool:
    """A user message that is not a Rasa command such as ``/restart``."""
    if event.get("event") != "user":
        return False
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return intent not in RASA_COMMAND_INTENTS


def conversation_rows(events: List[Dict[str, Any]], sender_id: str, conversation_id: str, user_hash: str,
                      engine, report: ExportReport, include_text: bool = False) -> List[Dict[str, Any]]:
    """The prompt decisions of one conversation (one session of a sender), with rewards."""
    assets = engine.assets
    state = DialogueState(user_id=listener_id(sender_id, assets))
    decisions: List[Dict[str, Any]] = []
    outcome, station, n_user, history_on = "incomplete", None, 0, True
    for i, e in enumerate(events):
        kind = e.get("event")
        if kind == "action" and e.get("name") in PROMPT_BY_ACTION:
            d, problem = _check_metadata(e.get("metadata"), e["name"])
            if problem:
                report.problems.append(f"conversation {conversation_id}, event {i}: {problem}")
            else:
                d.update(reply=None, elicited={}, sample_row=None, accepted=False, seq=len(decisions))
                if d["turn"] is None:
                    d["turn"] = n_user
                decisions.append(d)
        elif kind == "slot" and e.get("name") == "outcome" and e.get("value") in OUTCOMES:
            outcome = e["value"]
            if outcome == "accepted" and decisions:
                decisions[-1]["accepted"] = True
        elif kind == "slot" and e.get("name") == "station" and e.get("value"):
            station = e["value"]
        elif kind == "slot" and e.get("name") == "history_in_use" and e.get("value") is not None:
            history_on = bool(e["value"])  # the policy's history setting
        state, elicited = apply_event(state, e, engine)
        if kind == "user" and _listener_message(e):
            n_user += 1
            if decisions and decisions[-1]["reply"] is None:
                decisions[-1]["reply"] = meaning_from_parse(e.get("parse_data") or {}).to_dict()
                decisions[-1]["reply_text"] = e.get("text")
                decisions[-1]["elicited"] = elicited or {}
        elif kind == "slot" and e.get("name") == "last_sample" and decisions and state.samples:
            decisions[-1]["sample_row"] = state.samples[-1]
    accepted_row = None
    if outcome == "accepted":
        if isinstance(station, list) and station:
            accepted_row = assets.row_of(station[0])
        elif state.samples:
            accepted_row = state.samples[-1]
    rewards = label_conversation(assets.arrays, decisions, outcome, accepted_row)
    report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
    history_used = history_on and state.user_id is not None
    rows = decision_rows(conversation_id, user_hash, history_used, decisions, outcome, n_user, rewards)
    if include_text:
        for row, d in zip(rows, decisions):
            row["reply_text"] = d.get("reply_text")
    return rows


def export_trackers(trackers, engine, salt: str, include_text: bool = False) -> Tuple[pd.DataFrame, ExportReport]:
    """``trackers``: (sender_id, [event dicts]) pairs. Raw utterances only with ``include_text``."""
    report = ExportReport()
    rows: List[Dict[str, Any]] = []
    for sender_id, events in sorted(trackers, key=lambda t: hash_user(t[0], salt)):
        user_hash = hash_user(sender_id, salt)
        for k, session in enumerate(split_sessions(events)):
            report.conversations += 1
            rows += conversation_rows(session, sender_id, f"{user_hash}-{k}", user_hash, engine, report, include_text)
    report.decisions = len(rows)
    frame = to_frame(rows)
    if include_text:
        frame["reply_text"] = [r.get("reply_text") for r in rows]
    if not frame.empty:
        frame = frame.sort_values(["conversation_id", "turn"], kind="stable").reset_index(drop=True)
    return frame, report


async def read_tracker_store(endpoints: str, domain_path: str = "domain.yml"):
    from rasa.core.tracker_store import TrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.utils.endpoints import read_endpoint_config

    config = read_endpoint_config(endpoints, "tracker_store")
    store = TrackerStore.create(config, Domain.load(domain_path))
    out = []
    for sender_id in await store.keys():
        tracker = await store.retrieve_full_tracker(sender_id)
        if tracker is not None:
            out.append((sender_id, [e.as_dict() for e in tracker.events]))
    return out


def write_parquet(frame: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoints", default="rasa_project/endpoints.yml")
    p.add_argument("--domain", default="domain.yml")
    p.add_argument("--out", default="data/logs/exported.parquet")
    p.add_argument("--salt", default=None, help="sender hash salt (default: $SENDER_HASH_SALT)")
    p.add_argument("--include-text", action="store_true",
                   help="also export the listeners' raw words (reply_text); off by default for privacy")
    a = p.parse_args(argv)
    from embeddings.assets import load_assets
    from music_domain.dialogue_engine import MusicDialogueEngine

    trackers = asyncio.run(read_tracker_store(a.endpoints, a.domain))
    frame, report = export_trackers(trackers, MusicDialogueEngine(load_assets()), resolve_salt(a.salt),
                                    include_text=a.include_text)
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    write_parquet(frame, Path(a.out))
    print(f"{report.summary()} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
