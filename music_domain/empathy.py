"""Goal closeness: how close the listener seems to what they want, and the tone it calls for.

    score = 0.45 * sentiment + 0.25 * confidence + 0.30 * match          (in [0, 1])

- ``sentiment``: the listener's past replies, exponentially weighted towards the latest
  (weights 0.6^k, k = replies ago), mapped from [-1, 1] to [0, 1]; 0.5 before any reply.
  The largest weight: how they react is the most direct evidence of closeness.
- ``confidence``: how sure the assistant is of what it heard: the NLU intent confidence of
  the last message, times the speech-recognition confidence where a voice channel gives one.
- ``match``: how well the current candidates fit: their mean attribute match, nudged up by
  profile affinity when there is a listening history; 0 when nothing matches.

Bands select the response variations in ``domain.yml`` (slot ``closeness_band``):

- ``frustrated``: score < 0.4, or the last three replies were all negative. Replies
  reassure and offer a change of direction ("No problem, let's try another direction").
- ``close``: score >= 0.7 and the last reply was not negative. Replies get warmer and shorter.
- ``neutral`` otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from music_domain.reactions import NEGATIVE_RUN, is_negative

W_SENTIMENT, W_CONFIDENCE, W_MATCH = 0.45, 0.25, 0.30
DECAY = 0.6
FRUSTRATED_BELOW, CLOSE_FROM = 0.4, 0.7


@dataclass(frozen=True)
class Closeness:
    score: float
    band: str
    sentiment: float
    confidence: float
    match: float

    def as_dict(self) -> dict:
        return {"score": round(self.score, 4), "band": self.band, "sentiment": round(self.sentiment, 4),
                "confidence": round(self.confidence, 4), "match": round(self.match, 4)}


def sentiment_part(sentiments: Sequence[float]) -> float:
    if not sentiments:
        return 0.5
    weights = [DECAY ** k for k in range(len(sentiments))]
    recent_first = list(reversed(sentiments))
    mean = sum(w * s for w, s in zip(weights, recent_first)) / sum(weights)
    return (max(-1.0, min(1.0, mean)) + 1.0) / 2.0


def match_part(candidates: dict) -> float:
    if not candidates or candidates.get("log_candidates", 0.0) <= 0.0:
        return 0.0
    match = float(candidates.get("match_quality", 0.0))
    if candidates.get("has_profile"):
        affinity = max(0.0, min(1.0, float(candidates.get("affinity_top", 0.0))))
        match = 0.7 * match + 0.3 * affinity
    return max(0.0, min(1.0, match))


def closeness(sentiments: Sequence[float], nlu_confidence: float, candidates: dict,
              asr_confidence: Optional[float] = None) -> Closeness:
    s = sentiment_part(sentiments)
    c = max(0.0, min(1.0, float(nlu_confidence)))
    if asr_confidence is not None:
        c *= max(0.0, min(1.0, float(asr_confidence)))
    m = match_part(candidates)
    score = W_SENTIMENT * s + W_CONFIDENCE * c + W_MATCH * m
    negative_run = len(sentiments) >= NEGATIVE_RUN and all(is_negative(x) for x in sentiments[-NEGATIVE_RUN:])
    if score < FRUSTRATED_BELOW or negative_run:
        band = "frustrated"
    elif score >= CLOSE_FROM and (not sentiments or not is_negative(sentiments[-1])):
        band = "close"
    else:
        band = "neutral"
    return Closeness(score, band, s, c, m)


def state_closeness(state, asr_confidence: Optional[float] = None) -> Closeness:
    """From a ``DialogueState`` (after ``refresh_candidates``)."""
    return closeness(state.sentiments, state.nlu_confidence, state.candidates, asr_confidence)
