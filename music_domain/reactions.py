"""What a listener's reaction means: the sentiment thresholds and the give-up rule.

One home for them: the dialogue engine (liked / rejected samples, the negative streak), the
state features, the empathy bands, the rule-based policy and the simulated listener all read
these, so "negative" means the same everywhere.

- ``LIKED_SENTIMENT``: a reaction at or above it counts as liked (a liked sample seeds a station).
- ``NEGATIVE_BELOW``: a reaction below it counts as negative (a rejected sample, one more in
  the negative streak, one more negative reply in the features).
- ``NEGATIVE_RUN``: this many negative reactions in a row: the assistant's tone turns to
  "frustrated" and a simulated listener gives up.
- ``NOT_REACTIONS``: intents that ask or chat instead of answering the prompt ("who is this?",
  "what can you do", "are you a bot?", "hi"): they neither like nor turn down what is playing.
"""
from __future__ import annotations

LIKED_SENTIMENT = 0.3
NEGATIVE_BELOW = 0.0
NEGATIVE_RUN = 3
NOT_REACTIONS = ("greet", "bot_challenge", "help", "ask_track")


def is_liked(sentiment: float) -> bool:
    return sentiment >= LIKED_SENTIMENT


def is_negative(sentiment: float) -> bool:
    return sentiment < NEGATIVE_BELOW
