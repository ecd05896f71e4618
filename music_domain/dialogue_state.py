"""The dialogue state every prompt policy sees, and its feature vector.

The same ``DialogueState`` is built from a Rasa tracker (``music_domain.tracker_replay``)
and by the fast simulator (``simulator.fast_path``), so a policy trained on simulated or
logged conversations acts on exactly the features it sees in ``rasa run``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from music_domain.attributes import ATTRIBUTES
from music_domain.critiques import Directions
from music_domain.prompts import PROMPT_NAMES
from music_domain.reactions import is_negative

SLOT_ATTRIBUTES = ATTRIBUTES  # every attribute is a slot


@dataclass
class DialogueState:
    slots: Dict[str, Optional[str]] = field(default_factory=lambda: {a: None for a in SLOT_ATTRIBUTES})
    turn: int = 0  # system prompts so far
    sentiments: List[float] = field(default_factory=list)  # one per user message
    nlu_confidence: float = 1.0
    asked: Dict[str, int] = field(default_factory=dict)
    last_prompt: Optional[str] = None
    samples: List[int] = field(default_factory=list)  # catalogue rows played, in order
    rejected: List[int] = field(default_factory=list)
    liked_sample: Optional[int] = None
    stations_offered: int = 0
    station: List[int] = field(default_factory=list)  # rows of the station last offered
    negative_streak: int = 0  # negative reactions to samples/stations since the last liked one
    offered_genres: List[str] = field(default_factory=list)
    user_id: Optional[str] = None
    candidates: Dict[str, float] = field(default_factory=dict)  # from the retriever
    # critiques relative to played tracks ("faster than X"), excluded genres, seed tracks
    directions: Directions = field(default_factory=Directions)
    # what the listener's latest message named: "artist:<name>", "work:<track id>", "vein:<family>"
    # (an artist the catalogue lacks, with a known genre family), "unknown:<name>" (no vein)
    named: List[str] = field(default_factory=list)
    # the critiques the latest message made of the track just played ("faster", "newer",
    # "exclude_current_genre", "more_like", "exclude_genre:country"): a direction a sample can answer
    critiqued: List[str] = field(default_factory=list)
    # nothing matched: the constraint offered to be dropped ("Shall I drop the era?"), until the
    # listener answers; and the ones they said no to, which are not offered again
    pending_relax: Optional[str] = None
    kept: List[str] = field(default_factory=list)
    # a song the listener asked for by name ("play Bohemian Rhapsody"), played as the next sample;
    # songs named as a likeness ("something like it"), which they know, and which are no sample
    play_next: Optional[int] = None
    known: List[int] = field(default_factory=list)
    # tracks critiqued relative to themselves ("too slow"): the reference of a direction, neither
    # liked nor rejected; never played again, in a sample or a station
    references: List[int] = field(default_factory=list)

    def named_seed(self) -> bool:
        """The latest message named something a sample can answer (an artist, a song, a vein)."""
        return any(not n.startswith("unknown:") for n in self.named)

    def filled(self) -> Dict[str, bool]:
        return {a: bool(self.slots.get(a)) for a in SLOT_ATTRIBUTES}

    def record_prompt(self, prompt: str) -> None:
        """A prompt was carried out (live by the engine, or replayed from a tracker)."""
        self.turn += 1
        self.asked[prompt] = self.asked.get(prompt, 0) + 1
        self.last_prompt = prompt
        if prompt == "offer_station":
            self.stations_offered += 1


BASE_FEATURES = (
    "turn", "n_filled", "filled_genre", "filled_subgenre", "filled_energy", "filled_mood", "filled_era",
    "filled_activity", "filled_artist", "last_sentiment", "sentiment_trend", "n_negative", "negative_streak",
    "nlu_confidence",
    "samples_played", "rejections", "has_liked_sample", "stations_offered", "log_candidates",
    "match_quality", "candidate_spread", "named_seed", "named_unknown", "critiqued",
) + tuple(f"asked_{p}" for p in PROMPT_NAMES) + tuple(f"last_{p}" for p in PROMPT_NAMES)
HISTORY_FEATURES = ("has_profile", "affinity_top")
ALL_FEATURES = BASE_FEATURES + HISTORY_FEATURES


def feature_names(with_history: bool):
    return ALL_FEATURES if with_history else BASE_FEATURES


def state_features(state: DialogueState, with_history: bool = True) -> np.ndarray:
    """The state as a float vector in the order of ``feature_names(with_history)``."""
    filled = state.filled()
    s = state.sentiments
    last = s[-1] if s else 0.0
    trend = last - float(np.mean(s[:-1])) if len(s) > 1 else 0.0
    c = state.candidates or {}
    values = [
        float(state.turn), float(sum(filled.values())),
        *(float(filled[a]) for a in SLOT_ATTRIBUTES),
        float(last), float(trend), float(sum(1 for x in s if is_negative(x))), float(state.negative_streak),
        float(state.nlu_confidence),
        float(len(state.samples)), float(len(state.rejected)), float(state.liked_sample is not None),
        float(state.stations_offered), c.get("log_candidates", 0.0), c.get("match_quality", 0.0),
        c.get("candidate_spread", 0.0), float(state.named_seed()), float(bool(state.named) and not state.named_seed()),
        float(bool(state.critiqued)),
        *(float(min(state.asked.get(p, 0), 3)) for p in PROMPT_NAMES),
        *(float(state.last_prompt == p) for p in PROMPT_NAMES),
    ]
    if with_history:
        values += [c.get("has_profile", 0.0), c.get("affinity_top", 0.0)]
    return np.asarray(values, dtype=np.float32)
