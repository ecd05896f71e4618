"""Writes the NLU training data (rasa_project/data/nlu.yml) from phrasing templates and the
catalogue's own vocabulary. About 15% of examples get a typo and about 25% are voice-style
(lowercase, no punctuation). Deterministic for a seed:

    python tools/make_nlu_data.py

The test set (tests/nlu/test_nlu.yml) is not made here: it is written by hand from real phrasing
(cpcd user turns, critiques), independently of these templates.

Critiques of what was played ("too slow", "no more country") are literal phrasings without
attribute annotations: the critique component (music_domain/critiques.py) reads them relative to
the track played, and an attribute annotated inside one would teach DIET the opposite ("too
slow, something more [slow](energy)"). ``check`` refuses any example where a critique and an
annotated attribute overlap or contradict each other, so the templates cannot make such lines.
"""
from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GENRES = ["rock", "pop", "jazz", "hip hop", "rap", "country", "metal", "folk", "classical", "electronic",
          "techno", "house", "soul", "blues", "funk", "reggaeton", "salsa", "ambient", "lofi", "edm",
          "r&b", "latin", "disco", "gospel", "opera"]
SUBGENRES = ["alt rock", "alternative rock", "indie pop", "k-pop", "kpop", "hard rock", "punk", "death metal",
             "deep house", "drum and bass", "singer songwriter", "psychedelic rock", "trip hop", "indie",
             "dubstep", "trance", "emo", "grunge", "hardstyle", "bossa nova"]
ENERGY = ["upbeat", "laid back", "chill", "mellow", "energetic", "calm", "relaxed", "high energy", "lively",
          "slow", "fast", "pumping", "quiet", "soft", "hype", "laidback"]
MOOD = ["happy", "sad", "melancholic", "cheerful", "feel good", "moody", "uplifting", "gloomy", "dark"]
ERA = ["90s", "80s", "2000s", "nineties", "eighties", "70s", "2010s", "60s", "noughties", "seventies",
       "1990s", "2020s", "1985", "'90s"]
ACTIVITY = ["workout", "the gym", "running", "studying", "study", "focus", "a party", "dancing", "sleep",
            "driving", "a road trip", "dinner", "cooking", "relaxing", "reading", "coding", "the commute"]

TRAIN = {
    "request_music": [
        "help me find music", "find me some music", "I want to listen to something", "play some music",
        "can you recommend me some music", "I need new music", "recommend something", "what should I listen to",
        "help me find something to listen to", "I'm looking for music", "music please", "put something on",
        "could you suggest some songs", "find me a playlist", "I want a new station", "surprise me with a song",
        "play something for me", "I'd like to hear some tunes", "got any music recommendations",
        "I'm bored", "I'm bored, play something", "entertain me", "so bored, put some music on",
        "play [{energy}](energy) [{genre}](genre)", "play some [{energy}](energy) [{era}](era) [{genre}](genre)",
        "I want [{genre}](genre) from the [{era}](era)", "put on some [{subgenre}](genre)",
        "find me [{energy}](energy) music for [{activity}](activity)", "play [{genre}](genre) music",
        "I feel like [{mood}](mood) [{genre}](genre)", "something like [{artist}](artist) please",
        "play music like [{artist}](artist)", "I want [{energy}](energy) songs",
        # Answers to the assistant's questions state what the listener wants in the same way
        # (the policy treats a request and an answer alike), so they share the intent.
        "[{genre}](genre)", "[{subgenre}](genre)", "[{energy}](energy)", "[{era}](era)", "[{artist}](artist)",
        "something [{energy}](energy)", "I like [{genre}](genre)",
        "maybe [{genre}](genre)", "I'm into [{subgenre}](genre)", "something from the [{era}](era)",
        "the [{era}](era) please", "it's for [{activity}](activity)", "for [{activity}](activity)",
        "music for [{activity}](activity)", "I'm [{activity}](activity)", "something like [{artist}](artist)",
        "I love [{artist}](artist)", "[{mood}](mood) stuff", "something [{mood}](mood)",
        "[{energy}](energy) [{genre}](genre) please", "[{genre}](genre) from the [{era}](era)",
        "not that, more like [{genre}](genre)",
        "I'd prefer [{genre}](genre)", "how about [{subgenre}](genre)",
        "[{mood}](mood) and [{energy}](energy)", "I want to hear [{artist}](artist)",
        "something [{energy}](energy) for [{activity}](activity)", "something for a rainy sunday",
        "music for a lazy afternoon", "something to get me pumped", "background music while I work",
        "surely [{genre}](genre)", "probably [{subgenre}](genre)", "uh [{genre}](genre)", "hmm [{energy}](energy)",
        "[{genre}](genre) i guess", "[{energy}](energy) would be nice", "[{mood}](mood) music",
        "[{mood}](mood) tunes", "something with [{mood}](mood) vibes", "[{mood}](mood) songs please",
        "go for [{era}](era)", "[{era}](era) stuff", "I'm off [{activity}](activity)", "we're [{activity}](activity)",
        "I'm heading out [{activity}](activity)", "more like [{artist}](artist)", "maybe [{artist}](artist)",
        "absolutely [{genre}](genre)", "[{subgenre}](genre) for sure", "[{genre}](genre) sounds good",
        "I need [{energy}](energy) music", "i need music for [{activity}](activity)",
        "[{energy}](energy) music for [{activity}](activity) please", "in the mood for [{genre}](genre)",
        "I'm in the mood for something [{energy}](energy)", "get me some [{genre}](genre)",
        "start some [{energy}](energy) [{genre}](genre)", "I fancy [{mood}](mood) music",
        # critiques of the track just played: no attribute annotation (see the module docstring)
        "too slow", "that one's too slow", "way too sleepy", "faster please", "can you speed it up",
        "too fast for me", "slow it down a bit", "something slower", "this is too intense",
        "too loud", "less aggressive please", "calmer please", "more mellow", "too mellow",
        "more energy please", "something livelier", "harder please", "too old", "too dated",
        "something more recent", "newer stuff please", "too modern", "something older", "too sad",
        "happier please", "too cheerful", "something darker", "more like that", "more of this",
        "something similar to that one", "same vibe please", "not that genre", "a different genre please",
        "change the genre", "no more {genre}", "not {genre}", "anything but {genre}", "no {genre} please",
        "I don't want {genre}", "enough {genre}", "less {genre}", "not {genre}, more [{subgenre}](genre)",
        "no more {genre}, something [{energy}](energy)",
    ],
    "choose_option": [
        "the [first](option) one", "the [second](option) one", "[first](option)", "[second](option)",
        "the [former](option)", "the [latter](option)", "[option one](option)", "[option two](option)",
        "I'll take the [first](option)", "the [second](option) please", "[1](option)", "[2](option)",
        "[number two](option)", "go with the [first](option)", "the [last](option) one",
    ],
    "affirm": [
        "yes", "yeah", "yep", "sure", "ok", "okay", "sounds good", "yes please", "hmm ok", "fine",
        "I like it", "that's nice", "good", "not bad", "yeah that works", "alright", "correct", "right",
        "YES!", "love it", "great", "brilliant", "nice one", "that's good", "pretty good", "yes that's it",
        "ok I guess", "it's alright", "that's great", "awesome", "go for it", "sure, go for it", "why not",
        "let's do it", "sounds great", "yeah go on", "go on then",
    ],
    "accept": [
        "yes start the station", "play that station", "keep playing stuff like this", "perfect, keep it coming",
        "brilliant, I love it", "this is exactly it, play more like this", "start it", "yes play the station",
        "that's the one, play more", "go ahead and start it", "yes, make it a station", "more like this please",
        "I love this, keep going", "start the playlist", "play the playlist", "this is perfect",
        "that's the one", "this is the one", "that's it!", "this one is perfect",  # `make shell`: a fallback
    ],
    # Rasa's own intent for /restart (the RulePolicy runs action_restart): "start over" was read as
    # `accept` in `make shell` and started a station
    "restart": [
        "start over", "let's start over", "can we start over", "start again", "let's start again",
        "start from scratch", "begin again", "reset", "restart", "new search", "back to the start",
        "start over please", "scratch that, start over", "let's begin again", "can we start again?",
        "forget that, let's start again",
    ],
    "deny": [
        "no", "nope", "no thanks", "not really", "not really my thing", "I don't like it", "neither",
        "nah", "not that", "no way", "hate it", "that's awful", "not for me", "skip", "next", "something else",
        "neither of those", "no, not that one", "I don't think so", "meh", "not quite", "nope, next one",
        "I really dislike this", "no that's wrong", "really not my style", "nope not for me", "no not this", "I don't really like it", "nah, not into it", "not this one",
        "I really don't like this song", "no, that's not what I want", "nope, not it", "not a fan",
        "i dont like this", "dont want this one", "don't like it much", "do not like this", "i dont really like that",
    ],
    "surprise_me": [
        "surprise me", "anything", "whatever", "you choose", "anything is fine", "I don't mind",
        "dealer's choice", "you pick", "anything you like", "random", "whatever you think",
        "up to you", "anything goes", "pick something",
        "just surprise me", "you decide", "pick one for me", "whatever you fancy", "surprise me, go on",
    ],
    "dont_know": [
        "I don't know", "not sure", "no idea", "hmm I'm not sure", "don't know", "no preference",
        "doesn't matter", "can't think of any", "I have no clue", "no particular decade", "nothing specific",
        "no one in particular", "no strong preference",
        "I just don't know", "really no idea", "no preference at all", "honestly not sure", "I really can't say",
        "hard to say", "dunno",
    ],
    "stop": [
        "stop", "forget it", "never mind", "I give up", "cancel", "quit", "enough", "this isn't working",
        "stop it", "I'm done", "leave it", "exit", "nevermind", "let's stop",
        "drop it", "stop this", "forget the whole thing", "stop now",
        "oh forget it", "forget all of this", "just forget it", "let's forget it",
    ],
    # No one-word greetings in other languages ("bonjour", "hola", "ciao"): they taught the intent
    # model that any unknown single word greets, and "kansas" and "boston", catalogue bands said
    # alone, became greetings. A "bonjour" gets the fallback's "tell me a genre, a mood, or an artist".
    "greet": ["hi", "hello", "hey", "hey there", "good morning", "hiya", "hello there", "good evening", "yo",
              "hey yo", "sup", "howdy", "heya", "what's up", "good afternoon"],
    "goodbye": ["bye", "goodbye", "see you", "see you later", "bye bye", "cheers, bye", "talk later"],
    "bot_challenge": ["are you a bot?", "are you human?", "am I talking to a robot?", "who are you?",
                      "what are you"],
    # `make shell`: "what can you do" was read as "surprise me" and answered "Something laid back?
    # Or more upbeat?", and "how does this work" as a yes to music for studying
    "help": ["help", "what can you do", "what can you do?", "how does this work", "how does this work?",
             "how do i use this", "what do you do", "what can i say", "what can i ask you",
             "what are my options", "i need help", "how do you work", "what should i say", "can you help?",
             "how do i talk to you", "instructions please", "what can you help me with",
             "what do i do now"],
    # `make shell`: "what song is this?" and "who is this?" during a sample were read as a yes and
    # started a station
    "ask_track": ["who is this", "who is this?", "what song is this", "what song is this?", "what is this song",
                  "what's this song", "what's this song called", "who sings this", "who's singing",
                  "what's the name of this song", "who is this by", "what's playing", "what was that song",
                  "who was that", "what's the title", "name of this track?", "who's the artist",
                  "which band is this", "what's this track", "what is this track called", "who made this",
                  "what song was that"],
    "out_of_scope": [
        "what's the weather like", "order me a pizza", "what is the capital of France", "tell me a joke",
        "book a flight", "how tall is mount everest", "set an alarm for 7am", "what's 2 plus 2",
        "turn off the lights", "what time is it",
        "make a phone call", "text my brother", "read my emails", "what's on tv tonight", "call a taxi",
    ],
}

def typo(rng: random.Random, text: str) -> str:
    plain = [m.start() for m in re.finditer(r"[a-z]", text)]
    # only outside entity annotations
    spans = [(m.start(), m.end()) for m in re.finditer(r"\[[^\]]*\]\([^)]*\)", text)]
    plain = [i for i in plain if not any(a <= i < b for a, b in spans)]
    if len(plain) < 4:
        return text
    i = rng.choice(plain[1:-1])
    return text[:i] + text[i + 1] + text[i] + text[i + 2:] if i + 1 < len(text) and text[i + 1].isalpha() else text


def voice(text: str) -> str:
    out = re.sub(r"(\[[^\]]*\]\([^)]*\))|([^\[]+)",
                 lambda m: m.group(1).lower().replace("'", "") if m.group(1) else re.sub(r"[?!.,']", "", m.group(2).lower()),
                 text)
    return re.sub(r"\((\w+)\)", lambda m: f"({m.group(1)})", out)


ENTITY = re.compile(r"\[([^\]]*)\]\((\w+)\)")


def check(example: str, vocabulary) -> bool:
    """False for an example whose critique overlaps or contradicts an annotated attribute."""
    from music_domain import critiques

    spans, plain, pos = [], [], 0
    for m in ENTITY.finditer(example):
        plain.append(example[pos:m.start()])
        start = sum(map(len, plain))
        plain.append(m.group(1))
        spans.append((start, start + len(m.group(1)), m.group(2), m.group(1)))
        pos = m.end()
    plain.append(example[pos:])
    text = "".join(plain)
    found = critiques.parse(text, vocabulary)
    for f in found:
        for a, b, entity, raw in spans:
            if a < f.end and f.start < b:
                return False
            energy = vocabulary.normalise("energy", raw) if entity == "energy" else None
            if (f.critique in ("faster", "more_intense") and energy == "laid_back") or \
                    (f.critique in ("slower", "calmer") and energy == "upbeat"):
                return False
            if f.critique.startswith("exclude_genre:") and entity == "genre" and \
                    f.critique.split(":", 1)[1] in vocabulary.normalise_genre(raw):
                return False
    return True


def expand(templates, values, rng, n_per):
    out = []
    for t in templates:
        keys = re.findall(r"\{(\w+)\}", t)
        reps = n_per if keys else 1
        for _ in range(reps):
            ex = t.format(**{k: rng.choice(values[k]) for k in keys})
            r = rng.random()
            if r < 0.15:
                ex = typo(rng, ex)
            elif r < 0.40:
                ex = voice(ex)
            out.append(ex)
            if not keys and ex != t:
                out.append(t)  # a fixed phrasing stays as written beside its variant ("what's up", not only "whats up")
    voc = _vocabulary()
    return [e for e in sorted(set(out), key=out.index) if check(e, voc)]


def _vocabulary():
    from music_domain.attributes import Vocabulary
    from music_domain.catalog import load_catalog

    global _VOC
    try:
        return _VOC
    except NameError:
        _VOC = Vocabulary.from_catalog(load_catalog())
        return _VOC


def yaml_block(data) -> str:
    lines = ['version: "3.1"', "nlu:"]
    for intent, examples in data.items():
        lines.append(f"- intent: {intent}")
        lines.append("  examples: |")
        lines += [f"    - {e}" for e in examples]
    return "\n".join(lines) + "\n"


def main():
    cat = pd.read_csv(ROOT / "data" / "catalog" / "spotify_tracks_sample.csv")
    artists = cat["artist_name"].value_counts()
    artists = [a for a in artists.index if re.fullmatch(r"[A-Za-z][A-Za-z .&'-]{1,30}", a) and "(" not in a]
    # the tokenizer drops a name's trailing punctuation ("T.O.K."), which would misalign the
    # annotation; stripped in place, so the draw below is unchanged
    artists = [a.rstrip(" .&'-") for a in artists]
    rng = random.Random(7)
    rng.shuffle(artists)
    split = {"train": artists[:120], "test": artists[120:150]}
    base = {"genre": GENRES, "subgenre": SUBGENRES, "energy": ENERGY, "mood": MOOD, "era": ERA,
            "activity": ACTIVITY}
    train = {i: expand(t, {**base, "artist": split["train"]}, random.Random(1), 8) for i, t in TRAIN.items()}
    (ROOT / "rasa_project" / "data" / "nlu.yml").write_text(
        "# Generated by tools/make_nlu_data.py from phrasing templates and catalogue vocabulary.\n" + yaml_block(train))
    print(sum(map(len, train.values())), "training examples")


if __name__ == "__main__":
    main()
