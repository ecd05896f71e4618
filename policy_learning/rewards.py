"""Prompt-usefulness rewards, labelled automatically from the conversation outcome.

A prompt's reward is 1 when the conversation succeeded and what the prompt elicited helped
find the music finally accepted:

- a question (open, energy, genre pair, era, activity, artist): the listener's reply set at
  least one *new* attribute value (repeating a known one finds nothing), and every value it
  set is consistent with the accepted track
  (the track meets it; an artist seed is consistent when the accepted track is by that
  artist or in a catalogue genre of theirs);
- a sample: it was the accepted track or seeded the accepted station, or the reply to it
  elicited attribute values consistent with the accepted track (a useful "too slow");
- a station offer: it was accepted.

Otherwise 0. Conversation-level success and turn count are recorded beside it.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

import numpy as np


def consistent(arrays, row: int, attribute: str, value: str) -> bool:
    if attribute == "artist":
        artist_rows = arrays.columns["artist_name"] == value
        if not artist_rows.any():
            return False
        return bool(arrays.columns["artist_name"][row] == value or
                    arrays.columns["subgenre"][row] in set(arrays.columns["subgenre"][artist_rows]))
    try:
        return arrays.matches(row, attribute, value)
    except KeyError:
        return False


def prompt_usefulness(arrays, prompt: str, elicited: Mapping[str, str], success: bool,
                      accepted_row: Optional[int], led_to_acceptance: bool = False) -> int:
    if not success or accepted_row is None:
        return 0
    if prompt == "offer_station":
        return int(led_to_acceptance)
    if prompt == "play_sample" and led_to_acceptance:
        return 1
    if not elicited:
        return 0
    return int(all(consistent(arrays, accepted_row, a, v) for a, v in elicited.items()))


def label_conversation(arrays, decisions, outcome: str, accepted_row: Optional[int]) -> np.ndarray:
    """Rewards for a conversation's decisions (dicts with prompt, elicited, sample_row, accepted)."""
    success = outcome == "accepted"
    out = np.zeros(len(decisions), dtype=np.int8)
    for i, d in enumerate(decisions):
        led = bool(d.get("accepted")) or (
            d["prompt"] == "play_sample" and accepted_row is not None and d.get("sample_row") == accepted_row)
        out[i] = prompt_usefulness(arrays, d["prompt"], d.get("elicited") or {}, success, accepted_row, led)
    return out


def conversation_summary(outcome: str, turns: int) -> Dict[str, float]:
    return {"success": float(outcome == "accepted"), "turns": float(turns)}
