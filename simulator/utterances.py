"""Natural-language utterances for simulated listeners' meaning representations.

The fast path hands ``UserMeaning`` straight to the dialogue; the Rasa path (``rasa_path``)
says it in words so that the real NLU has to recover it. Phrasings vary by the listener's
style ("chatty", "terse", "voice": lowercase, no punctuation) and reactions to samples are
graded by sentiment, from "not really my thing" to "Brilliant, I love it".
"""
from __future__ import annotations

import re
from typing import Dict

import numpy as np

from music_domain.attributes import display_genre
from music_domain.dialogue_engine import UserMeaning

ENERGY_WORDS = {"upbeat": ("upbeat", "energetic", "lively", "something with energy"),
                "laid_back": ("laid back", "chill", "mellow", "relaxed")}
ERA_WORDS = {"1960s": ("60s", "sixties"), "1970s": ("70s", "seventies"), "1980s": ("80s", "eighties"),
             "1990s": ("90s", "nineties"), "2000s": ("2000s", "noughties"), "2010s": ("2010s",),
             "2020s": ("2020s", "recent stuff from the 2020s")}
ACTIVITY_WORDS = {"workout": "working out", "study": "studying", "party": "a party", "sleep": "sleeping",
                  "relax": "relaxing", "driving": "driving", "dinner": "dinner", "running": "running",
                  "focus": "focusing", "commute": "the commute"}
OPTION_WORDS = ("the first one", "the second one")

CRITIQUE_WORDS = {  # how listeners say a critique of what was just played (music_domain.critiques)
    "faster": ("too slow", "that's a bit too slow", "faster please", "can you speed it up", "something quicker"),
    "slower": ("too fast", "slow it down a bit", "something slower"),
    "calmer": ("too intense", "less intense please", "more chill", "that's too loud", "something calmer"),
    "more_intense": ("too mellow", "more energy please", "something livelier"),
    "newer": ("too old", "something newer", "more recent stuff please"),
    "older": ("too modern", "something older"),
    "happier": ("too sad", "something happier"),
    "sadder": ("too cheerful", "something darker"),
    "more_like": ("more like that", "more of this please"),
    "exclude_current_genre": ("not that genre", "a different genre please", "can we change the genre"),
}


def say_critique(critique: str, rng: np.random.Generator) -> str:
    kind, _, value = critique.partition(":")
    if kind == "exclude_genre":
        return _pick(rng, (f"no more {display_genre(value)}", f"not {display_genre(value)}",
                           f"anything but {display_genre(value)}"))
    return _pick(rng, CRITIQUE_WORDS.get(kind, (kind.replace("_", " "),)))


REACTIONS = [  # (lowest sentiment, phrases)
    (0.75, ("Brilliant, I love it", "I love this one!", "this is amazing")),
    (0.55, ("YES!", "yes, great", "really nice")),
    (0.35, ("Yes", "yeah that's good", "I like it")),
    (0.1, ("Hmm, OK", "it's alright", "ok I guess")),
    (-0.2, ("meh", "not quite", "hmm not sure about that")),
    (-0.6, ("not really my thing", "nah not that", "I don't like it")),
    (-2.0, ("no, I hate it", "that's awful", "no way")),
]


def _pick(rng: np.random.Generator, options) -> str:
    return str(options[int(rng.integers(len(options)))]) if isinstance(options, (tuple, list)) else str(options)


def say_attribute(attr: str, value: str, rng: np.random.Generator) -> str:
    if attr in ("genre", "subgenre"):
        return display_genre(value)
    if attr == "energy":
        return _pick(rng, ENERGY_WORDS.get(value, (value.replace("_", " "),)))
    if attr == "era":
        return "the " + _pick(rng, ERA_WORDS.get(value, (value,)))
    if attr == "activity":
        return "for " + ACTIVITY_WORDS.get(value, value)
    if attr == "mood":
        return f"something {value}"
    if attr == "artist":
        return f"like {value}"
    return value


def describe(attributes: Dict[str, str], rng: np.random.Generator) -> str:
    a = dict(attributes)
    if "subgenre" in a:
        a.pop("genre", None)  # the subgenre says both
    parts = []
    energy = a.pop("energy", None)
    genre = a.pop("subgenre", None) or a.pop("genre", None)
    head = " ".join(p for p in (say_attribute("energy", energy, rng) if energy else "",
                                display_genre(genre) if genre else "") if p)
    if head:
        parts.append(head)
    for attr in ("era", "activity", "mood", "artist"):
        if a.get(attr):
            parts.append(say_attribute(attr, a[attr], rng))
    text = " ".join(parts)
    return re.sub(r"^the ", "something from the ", text) if text.startswith("the ") else text


def realise(meaning: UserMeaning, rng: np.random.Generator, style: str = "chatty") -> str:
    """One utterance for a meaning representation."""
    intent, attrs, s = meaning.intent, meaning.attributes, meaning.sentiment
    critiques = getattr(meaning, "critiques", None) or []
    if intent == "request_music" and critiques:
        said = ", ".join(say_critique(c, rng) for c in critiques)
        text = f"{said}, {describe(attrs, rng)} instead" if attrs else said
    elif intent == "request_music":
        if not attrs:
            text = _pick(rng, ("help me find music", "can you find me some music?", "I want something to listen to"))
        else:
            what = describe(attrs, rng)
            text = _pick(rng, (f"play some {what}", f"{what} please", f"I'd like {what}", what))
            if s < 0:
                text = f"no, {what} instead"
    elif intent == "choose_option":
        text = OPTION_WORDS[meaning.choice] if meaning.choice in (0, 1) else "the first one"
    elif intent == "affirm":
        text = _reaction(s, rng)
    elif intent == "deny":
        text = _reaction(s, rng) if s < -0.2 else _pick(rng, ("no", "nope", "not that"))
    elif intent == "accept":
        text = _pick(rng, ("brilliant, keep this going", "perfect, play more like this", "yes start the station"))
    elif intent == "dont_know":
        text = _pick(rng, ("not sure", "I don't know", "no idea"))
    elif intent == "surprise_me":
        text = _pick(rng, ("surprise me", "anything", "you choose"))
    elif intent == "stop":
        text = _pick(rng, ("forget it", "stop", "I give up"))
    else:
        text = intent.replace("_", " ")
    if style == "voice":
        text = re.sub(r"[?!.,]", "", text.lower())
    elif style == "terse" and intent == "request_music" and attrs and not critiques:
        text = describe(attrs, rng)
    return text


def _reaction(sentiment: float, rng: np.random.Generator) -> str:
    for lowest, phrases in REACTIONS:
        if sentiment >= lowest:
            return _pick(rng, phrases)
    return _pick(rng, REACTIONS[-1][1])
