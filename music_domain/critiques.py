"""Critiques of what was just played ("too slow", "something newer", "no more country") and what
each means relative to that track's own features.

A critique is a string: a kind, and for a genre exclusion the genre (``exclude_genre:country``).

==========================  ===============================================  ==========================
kind                        said as                                          relative to the track X
==========================  ===============================================  ==========================
``faster``                  too slow, speed it up, faster                    energy above X's, tempo not
                                                                              more than 10 BPM below
``slower``                  too fast, slow it down, slower                   energy below X's, tempo not
                                                                              more than 10 BPM above
``calmer``                  less intense, more chill, too loud, softer       energy at least 0.1 below X's
``more_intense``            more energy, too mellow, harder, louder          energy at least 0.1 above X's
``newer`` / ``older``       too old, something newer / too modern, older     release year after / before X's
``happier`` / ``sadder``    too sad, brighter / too cheerful, darker         valence above / below X's
``more_like``               more like that, similar to this one              a seed: near X in the vectors
``exclude_current_genre``   not that genre, a different genre                not X's genre family
``exclude_genre:<g>``       no more country, not country, anything but rap   not the genre g
``exclude_artist:<a>``      not radiohead, no more Drake, enough of Adele    not by the artist a
``instrumental``            no lyrics, without vocals, instrumental only     any track: instrumentalness
                                                                              >= 0.9
``vocal``                   with lyrics, something to sing along to          any track: instrumentalness
                                                                              < 0.5
==========================  ===============================================  ==========================

``instrumental`` and ``vocal`` are about the music wanted, not relative to a track, so they hold
whether or not anything was played ("something to study to" ... "no lyrics please").

Before anything was played, a relative critique has no track to be relative to: "something
older" as the first words means older than the catalogue's typical track (a decade before the
median known year; "newer", after it; for valence, the median valence), and energy critiques fill the energy slot
instead.

``parse(text, vocabulary)`` finds them in words (used by the NLU component and the tests);
``Directions`` keeps them in the dialogue state, one per feature (a newer critique on the same
feature replaces the older), each with the track it was said about; ``mask`` turns them into a
catalogue filter that retrieval applies.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np

KINDS = ("faster", "slower", "calmer", "more_intense", "newer", "older", "happier", "sadder", "more_like",
         "exclude_current_genre", "exclude_genre", "exclude_artist", "instrumental", "vocal")
# groups a critique said before anything was played still means, relative to the catalogue's
# typical track (energy critiques fill the energy slot instead: music_domain.dialogue_engine)
UNANCHORED_GROUPS = ("year", "valence")
# ... and by how much at least: the known years bunch up in the last decade (median 2016 in the
# shipped catalogue), so "older than typical" by one year was still a 2015 track; "newer" keeps
# its one year (a decade after the median is the future)
UNANCHORED_MARGIN = {"older": 10.0}

_A = r"(?:a (?:bit|little|lot|tad) |bit |little |way |much |even |slightly |kinda |somewhat )?"
_SOMETHING = r"(?:something|anything|songs?|tracks?|music|stuff|one|some)"
PATTERNS: Dict[str, Tuple[str, ...]] = {
    "faster": (
        r"too (?:slow|sleepy|sluggish|draggy|plodding)", r"speed (?:it|things) up", r"pick up the (?:pace|tempo)",
        rf"{_A}faster", rf"{_A}quicker", r"(?:more|higher|a faster) (?:tempo|bpm|pace)",
        r"not (?:so|as) slow", r"less slow",
    ),
    "slower": (
        r"too (?:fast|quick|hectic|frantic|rushed)", r"slow (?:it|things) down", rf"{_A}slower",
        r"(?:lower|a slower|less) (?:tempo|bpm|pace)", r"not (?:so|as) fast", r"less fast",
    ),
    "calmer": (
        r"too (?:intense|loud|aggressive|heavy|hard|harsh|noisy|energetic|hyper|much energy|busy|wild|crazy)",
        r"less (?:intense|loud|aggressive|heavy|energetic|energy|hectic|busy|noisy)",
        rf"{_A}more (?:chill|chilled|relaxed|mellow|laid back|laid-back|laidback|calm|peaceful|gentle|low key|relaxing|chilled out)",
        rf"{_A}(?:calmer|mellower|softer|quieter|gentler|chiller)", r"tone it down", r"not (?:so|as) (?:loud|intense|heavy)",
    ),
    "more_intense": (
        r"too (?:mellow|chill|calm|soft|quiet|relaxed|laid back|tame|gentle|boring|sleepy)",
        rf"{_A}more (?:intense|energy|energetic|upbeat|lively|punch|power|oomph|drive|kick)",
        rf"{_A}(?:harder|heavier|louder|livelier|punchier|more upbeat)", r"pump it up", r"turn it up",
        r"not (?:so|as) (?:mellow|soft|calm|quiet)",
    ),
    "newer": (
        r"too (?:old|dated|oldschool|old school|old-fashioned|retro)", rf"{_A}(?:newer|more recent|more modern|fresher|more current)",
        r"something (?:recent|new|modern|current)", r"less old", r"not (?:so|as) old", r"from this decade",
        r"(?:no|not|nothing|less|without|no more|enough(?: of)?|anything but|stop(?: the)?|skip(?: the)?|hate|"
        r"(?:do|did)n'?t (?:want|like|need)(?: any)?(?: more)?) (?:too |so |the |these |those )?(?:old[ -]?school|oldies|throwbacks?)",
    ),
    "older": (
        r"too (?:new|modern|recent|current)", rf"{_A}(?:older|more classic|more old school|more vintage|more retro)",
        r"something (?:old|older|classic|vintage)", r"less (?:modern|recent|new)", r"not (?:so|as) (?:new|modern)",
        # "old school hip hop", "some oldies", "throwbacks": older than the genre's typical track
        r"old[ -]?school", r"(?<![\w'])oldies", r"(?<![\w'])throwbacks?(?![\w'])",
    ),
    "happier": (
        r"too (?:sad|depressing|dark|gloomy|melancholic|melancholy|down|moody|somber|sombre|bleak)",
        rf"{_A}(?:happier|more cheerful|brighter|more positive|more fun|more uplifting|more joyful|sunnier)",
        r"less (?:sad|depressing|dark|gloomy|moody)", r"cheer (?:it|me) up",
    ),
    "sadder": (
        r"too (?:happy|cheerful|cheesy|sunny|bubbly|poppy|upbeat and happy)",
        rf"{_A}(?:sadder|more melancholic|darker|moodier|more emotional|more somber|more sombre|gloomier)",
        r"less (?:happy|cheerful|cheesy|bubbly)",
    ),
    "more_like": (
        r"more (?:like|of) (?:that|this|it)(?: one)?",
        rf"{_SOMETHING} (?:like|similar to) (?:that|this|it|them|him|her)(?: one| song| track)?",
        r"(?:same|similar) (?:vibe|style|sound|feel)", r"like (?:that|this) one", r"in (?:that|this|the same) vein",
        r"similar (?:ones|songs|tracks|stuff)", r"(?:keep|stay) (?:it )?(?:like|with) (?:that|this)",
    ),
    "instrumental": (
        r"(?:no|without|less|fewer|zero|not any|not so many|minus the|without any) "
        r"(?:lyrics|vocals|singing|words|singers?|voices?)",
        r"(?:don'?t|do not) (?:want|need|like) (?:any )?(?:lyrics|vocals|singing|words)",
        r"(?:too many|too much) (?:lyrics|vocals|singing|words)", r"(?:only |just |purely |all )?instrumentals?(?: only)?",
        r"nobody singing", r"no one singing", r"no-one singing",
    ),
    "vocal": (
        r"(?:with|more|some|has|have|need|want) (?:lyrics|vocals|singing|words|a singer|a voice)",
        r"(?:too|less|not) instrumental", r"not (?:an |so )?instrumental", r"sing ?-?along",
        r"(?:something|songs?|music) (?:i|we) can sing (?:along )?to",
    ),
    "exclude_current_genre": (
        r"not (?:that|this) (?:genre|style|kind of music|type of music)",
        r"(?:a |another |some )?(?:different|other) (?:genre|style|kind of music|type of music)",
        r"another genre", r"(?:change|switch) (?:the )?(?:genre|style)",
        r"(?:move|get|go|moving|getting) away from (?:this|that|the) (?:genre|style)",
        r"(?:enough|tired|sick) of (?:this|that) (?:genre|style)",
        r"not (?:a fan of|into) (?:this|that) (?:genre|style)",
    ),
}
EXCLUDE_TRIGGERS = (
    r"no more", r"not", r"no", r"without", r"anything but", r"anything except", r"except", r"other than",
    r"not into", r"not a fan of", r"(?:i )?(?:don'?t|do not) (?:want|like|need|feel like|fancy)(?: any)?(?: more)?",
    r"(?:i )?hate", r"less", r"enough(?: of)?(?: the)?", r"(?:i'?m )?(?:tired|sick) of(?: the)?",
    r"(?:move|moving|get|getting|go) away from(?: the)?", r"stop(?: playing)?(?: the)?", r"skip(?: the)?",
    r"avoid(?: the)?", r"nothing", r"none of(?: the)?", r"please no", r"instead of",
)
# "no, country instead" is a request for country, not an exclusion
NOT_EXCLUSION_AFTER = r"(?:instead|please|then|would be|is better|is fine|sounds|is good|is great)"


def _word_re(body: str) -> re.Pattern:
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])", re.I)


_COMPILED = {k: [_word_re(p) for p in ps] for k, ps in PATTERNS.items()}


def _vocabulary_words() -> frozenset:
    words = set()
    for ps in PATTERNS.values():
        for p in ps:
            words.update(w for w in re.findall(r"[a-z]{4,}", p))
    return frozenset(words)


_WORDS = _vocabulary_words()


def _fix_word(m: re.Match) -> str:
    """A word one swap, deletion or insertion away from a critique word ("slwo", "faser")."""
    w = m.group(0)
    if len(w) < 4 or w in _WORDS:
        return w
    swaps = {w[:i] + w[i + 1] + w[i] + w[i + 2:] for i in range(len(w) - 1)}
    deletions = {w[:i] + w[i + 1:] for i in range(len(w))}
    for cand in (swaps | deletions) & _WORDS:
        return cand
    for cand in _WORDS:
        if len(cand) == len(w) + 1 and any(cand[:i] + cand[i + 1:] == w for i in range(len(cand))):
            return cand
    return w


def _normalise(text: str) -> Tuple[str, List[int]]:
    """Lower case, one kind of apostrophe, a letter repeated 3+ times cut to two ("toooo" ->
    "too"), and one-edit typos of critique words of 4+ letters corrected ("slwo" -> "slow").
    Returns the text and, for each of its positions (and its end), the original position, so
    spans point at the listener's own characters."""
    t = (text or "").replace("’", "'").lower()
    out, where, pos = [], [], 0
    for m in re.finditer(r"[a-z]+", t):
        out.append(t[pos:m.start()])
        where.extend(range(pos, m.start()))
        word = re.sub(r"([a-z])\1{2,}", r"\1\1", m.group(0))
        word = _fix_word(re.match(r".+", word))
        out.append(word)
        where.extend(min(m.start() + i, m.end() - 1) for i in range(len(word)))
        pos = m.end()
    out.append(t[pos:])
    where.extend(range(pos, len(t) + 1))
    return "".join(out), where


@dataclass(frozen=True)
class Found:
    critique: str  # kind, or "exclude_genre:<family or subgenre>"
    start: int
    end: int


def _genre_forms(vocabulary) -> Dict[str, str]:
    """Surface form -> genre value (family, or catalogue genre) the vocabulary knows."""
    forms = {}
    if vocabulary is None:
        return forms
    for f, v in vocabulary.surface_forms("genre").items():
        if len(f) >= 3:
            forms[f] = v
    from music_domain.attributes import GENRE_FAMILIES, SUBGENRE_TO_FAMILY

    for f, v in vocabulary.surface_forms("subgenre").items():
        family = SUBGENRE_TO_FAMILY.get(v, v)
        if len(f) >= 3 and f not in vocabulary.families and len(GENRE_FAMILIES.get(family, ())) > 1:
            forms[f] = v  # "jazz" is the catalogue genre, not all of soul and jazz; "rock", "rap" stay families
    return forms


_EXCLUDE_CACHE: Dict[int, Tuple[re.Pattern, Dict[str, str]]] = {}


def _exclude_re(vocabulary):
    key = id(vocabulary)
    if key not in _EXCLUDE_CACHE:
        forms = _genre_forms(vocabulary)
        alternation = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) or r"(?!x)x"
        triggers = "|".join(EXCLUDE_TRIGGERS)
        pattern = re.compile(
            rf"(?<![\w'])(?:{triggers})\s+(?:(?:the|any|more|of|that|this|so much|all the|with the)\s+)*"
            rf"(?P<genre>{alternation})(?:\s+(?:music|stuff|songs|tracks|genre|please|anymore|any more))*(?![\w'])"
            rf"(?!\s*,?\s*{NOT_EXCLUSION_AFTER})", re.I)
        _EXCLUDE_CACHE[key] = (pattern, forms)
    return _EXCLUDE_CACHE[key]


def parse(text: str, vocabulary=None) -> List[Found]:
    """Critiques in ``text``, in order, each once; a span is claimed by one critique."""
    t, where = _normalise((text or "")[:2000])
    found: List[Found] = []
    taken: List[Tuple[int, int]] = []

    def free(a, b):
        return not any(x < b and a < y for x, y in taken)

    if vocabulary is not None:
        pattern, forms = _exclude_re(vocabulary)
        for m in pattern.finditer(t):
            value = forms.get(m.group("genre").lower())
            if _NOT_A_NEGATION_AFTER.search(t[:m.start()]):
                continue  # "why not country?", "don't stop playing rock"
            if value and free(m.start(), m.end()):
                found.append(Found(f"exclude_genre:{value}", m.start(), m.end()))
                taken.append((m.start(), m.end()))
    for kind in ("exclude_current_genre", "more_like", "vocal", "instrumental", "newer", "older", "faster",
                 "slower", "calmer", "more_intense", "happier", "sadder"):
        for rx in _COMPILED[kind]:
            for m in rx.finditer(t):
                if free(m.start(), m.end()):
                    found.append(Found(kind, m.start(), m.end()))
                    taken.append((m.start(), m.end()))
    seen, out = set(), []
    for f in sorted(found, key=lambda f: f.start):
        if f.critique not in seen:
            seen.add(f.critique)
            end = where[f.end - 1] + 1 if f.end > 0 else where[0]
            out.append(Found(f.critique, where[f.start], end))
    # contradictory pairs from one message ("not too fast, not too slow"): keep neither
    kinds = {f.critique for f in out}
    for a, b in (("faster", "slower"), ("calmer", "more_intense"), ("newer", "older"), ("happier", "sadder"),
                 ("instrumental", "vocal")):
        if a in kinds and b in kinds:
            out = [f for f in out if f.critique not in (a, b)]
    return out


_TRIGGERS = "|".join(sorted(EXCLUDE_TRIGGERS, key=len, reverse=True))  # "not into" before "not"
_FILLER = r"(?:the|any|more|of|that|this|so much|all the|with the|music by|songs by|stuff by|tracks by|anything by|by)"
_BEFORE_ARTIST = re.compile(rf"(?<![\w'])(?P<trigger>{_TRIGGERS})\s+(?:{_FILLER}\s+)*$", re.I)
_AFTER_TRIGGER = re.compile(rf"(?<![\w'])(?P<trigger>{_TRIGGERS})\s+(?P<fill>(?:{_FILLER}\s+)*)", re.I)
_AFTER_ARTIST = re.compile(rf"^\W{{0,3}}(?:'s?\s+)?(?:music|stuff|songs|tracks)?\s*,?\s*{NOT_EXCLUSION_AFTER}", re.I)
# a trigger after these is no exclusion: "why not Drake?", "don't stop playing nirvana", "can't
# live without Drake", "if not Adele, then ..."
_NOT_A_NEGATION_AFTER = re.compile(r"(?<![\w'])(?:why|if|or|don'?t|do not|can'?t|cannot|won'?t|never)\s+(?:\w+\s+)?$",
                                   re.I)
_NAME_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*|&")


def _excluding(text: str, trigger: re.Match, end: int) -> bool:
    """Does the trigger matched at ``trigger`` exclude the name ending at ``end``? Not after "why",
    "if", "don't" ...; and "no Drake please" asks for Drake ("no more Drake please" does not)."""
    if _NOT_A_NEGATION_AFTER.search(text[:trigger.start()]):
        return False
    return not (trigger.group("trigger").lower() == "no" and _AFTER_ARTIST.search(text[end:]))


def artist_exclusions(text: str, entities) -> List[Tuple[dict, Found]]:
    """Named artists the listener excludes ("not radiohead, something like them", "no more
    Drake", "anything but taylor swift"): each ``artist`` or unknown artist (``unknown_mention``)
    entity right after an exclusion trigger, as ``(entity, Found("exclude_artist:<name>"))``."""
    text = (text or "")[:2000].replace("\u2019", "'")  # one character for one: offsets hold
    out = []
    for e in entities or []:
        if e.get("entity") not in ("artist", "unknown_mention") or not e.get("value"):
            continue
        if e.get("entity") == "unknown_mention" and str(e.get("mention_type") or "artist").lower() != "artist":
            continue
        a, b = int(e.get("start", 0) or 0), int(e.get("end", 0) or 0)
        if not 0 <= a < b <= len(text):
            continue
        before = _BEFORE_ARTIST.search(text[:a])
        if before is None or not _excluding(text, before, b):
            continue
        out.append((e, Found(f"exclude_artist:{e['value']}", before.start(), b)))
    return out


def named_artist_exclusions(text: str, resolve, max_words: int = 4) -> List[Found]:
    """Excluded artists found in the words right after an exclusion trigger when no tagger
    named them ("not nirvana though": the mention tagger, trained on requests, rarely sees a
    name after a negation). ``resolve(words)`` returns the catalogue artist those words name
    exactly, or None; the longest name wins, with the filler words after the trigger ("not the
    weeknd") or without them."""
    text = (text or "")[:2000].replace("\u2019", "'")
    out: List[Found] = []
    for m in _AFTER_TRIGGER.finditer(text):
        found = None
        for start in dict.fromkeys((m.start("fill"), m.end())):
            words = list(_NAME_WORD.finditer(text, start))[:max_words]
            if not words or words[0].start() != start:
                continue
            for n in range(len(words), 0, -1):
                artist = resolve(text[start:words[n - 1].end()])
                if artist:
                    found = (artist, words[n - 1].end())
                    break
            if found:
                break
        if found and _excluding(text, m, found[1]):
            out.append(Found(f"exclude_artist:{found[0]}", m.start(), found[1]))
    return out


# -- the state and retrieval ---------------------------------------------------------------
# kind -> [(feature, sign, margin)]: the track must move past X's value by the margin in that
# direction; a negative margin is a tolerance (the feature may move against by that much).
RELATIVE = {
    "faster": [("energy", +1, 0.05), ("tempo", +1, -10.0)],
    "slower": [("energy", -1, 0.05), ("tempo", -1, -10.0)],
    "calmer": [("energy", -1, 0.1)],
    "more_intense": [("energy", +1, 0.1)],
    "newer": [("year", +1, 1)],
    "older": [("year", -1, 1)],
    "happier": [("valence", +1, 0.1)],
    "sadder": [("valence", -1, 0.1)],
}
GROUP = {"faster": "pace", "slower": "pace", "calmer": "pace", "more_intense": "pace", "newer": "year",
         "older": "year", "happier": "valence", "sadder": "valence", "instrumental": "vocals", "vocal": "vocals"}
# kind -> (feature, sign, line): whatever was played, the track's feature is on that side of the
# line (sign +1: at least the line; -1: below it). Spotify: "instrumentalness above 0.5 is
# intended to represent instrumental tracks", but its reading is noisy on whispered or produced
# vocals: the most popular catalogue tracks just over 0.5 are sung ("everything i wanted", 0.657),
# so "no lyrics" asks for 0.9 (`python benchmarks/instrumental_line.py` lists them per line), and
# "with vocals" for under Spotify's 0.5.
INSTRUMENTAL_LINE = 0.9
ABSOLUTE = {"instrumental": ("instrumentalness", +1, INSTRUMENTAL_LINE),
            "vocal": ("instrumentalness", -1, 0.5)}


@dataclass
class Directions:
    """What the listener asked for relative to tracks they heard: ``{group: (kind, row)}``, genres
    excluded, and seed rows ("more like that", a named song)."""
    relative: Dict[str, Tuple[str, Optional[int]]] = field(default_factory=dict)  # row None: the catalogue's typical track
    excluded: List[str] = field(default_factory=list)
    seeds: List[int] = field(default_factory=list)
    excluded_artists: List[str] = field(default_factory=list)

    def describe(self, catalog=None) -> List[str]:
        out = []
        for kind, row in self.relative.values():
            if kind in ABSOLUTE:
                out.append("instrumental" if kind == "instrumental" else "with vocals")
                continue
            name = "the typical track" if row is None else f"track {row}"
            if catalog is not None and row is not None:
                name = f"{catalog['track_name'].iloc[row]!r}"
            out.append(f"{kind.replace('_', ' ')} than {name}")
        out += [f"not {g}" for g in self.excluded]
        out += [f"not by {a}" for a in self.excluded_artists]
        return out

    def __bool__(self) -> bool:
        return bool(self.relative or self.excluded or self.seeds or self.excluded_artists)


def apply(directions: Directions, critiques: Iterable[str], reference: Optional[int]) -> List[str]:
    """Record critiques said about the track at row ``reference`` (None: nothing played yet: genre
    and artist exclusions apply, and the ``UNANCHORED_GROUPS`` relative to the catalogue's typical
    track). Returns the critiques recorded."""
    done = []
    for c in critiques:
        kind, _, value = str(c).partition(":")
        if kind == "exclude_genre" and value:
            if value not in directions.excluded:
                directions.excluded.append(value)
            done.append(c)
        elif kind == "exclude_artist" and value:
            if value not in directions.excluded_artists:
                directions.excluded_artists.append(value)
            done.append(c)
        elif kind in ABSOLUTE:
            directions.relative[GROUP[kind]] = (kind, None)
            done.append(c)
        elif reference is None:
            if kind in RELATIVE and GROUP[kind] in UNANCHORED_GROUPS:
                directions.relative[GROUP[kind]] = (kind, None)
                done.append(c)
        elif kind == "exclude_current_genre":
            directions.relative["genre"] = (kind, int(reference))
            done.append(c)
        elif kind == "more_like":
            directions.seeds = [int(reference)] + [s for s in directions.seeds if s != reference][:2]
            done.append(c)
        elif kind in RELATIVE:
            directions.relative[GROUP[kind]] = (kind, int(reference))
            done.append(c)
    return done


def implied_energy(kind: str) -> Optional[str]:
    """The energy slot an energy critique implies, whatever the track it is about: "too slow" or
    "more upbeat" about a laid-back track means upbeat music, and about an upbeat one it still
    does (faster than an upbeat track is upbeat). Leaving the slot empty in the second case made
    the assistant answer "not that one, something more upbeat" with "Something laid back? Or more
    upbeat?"."""
    if kind in ("faster", "more_intense"):
        return "upbeat"
    if kind in ("slower", "calmer"):
        return "laid_back"
    return None


def stepped_era(kind: str, era: Optional[str]) -> Optional[str]:
    """The era slot after a year critique of a track played within it: "something from the 80s"
    ... "too old" asks for the next decade, not a 1986 track after a 1985 one (the direction
    alone, "after X's year", kept the 80s slot, and the assistant answered "too old" twice with
    more 80s). "older" steps back a decade. At the ends of ``ERA_VALUES`` the slot stays, and the
    direction still holds; any other critique, or no era, leaves it as it was."""
    from music_domain.attributes import ERA_VALUES

    step = {"newer": 1, "older": -1}.get(kind)
    if step is None or era not in ERA_VALUES:
        return era
    i = ERA_VALUES.index(era) + step
    return ERA_VALUES[i] if 0 <= i < len(ERA_VALUES) else era


def stepped_mood(kind: str, mood: Optional[str]) -> Optional[str]:
    """The mood slot after a valence critique: "too depressing" (happier) about melancholic music
    leaves the mood open, and so does "too cheerful" (sadder) about happy music; the direction
    ("happier than X") says the rest. Any other critique or mood leaves it as it was."""
    if (kind, mood) in (("happier", "melancholic"), ("sadder", "happy")):
        return None
    return mood


def reference_value(values: np.ndarray, genres: np.ndarray, row: Optional[int]) -> float:
    """The value of a feature for the track at ``row``, or, when the catalogue does not know it
    (most tracks of the Spotify 114k file have no release year), the median known value of that
    track's genre family (of the catalogue when the family has none): "too old" about a track of
    unknown year means newer than its genre's typical year, instead of a direction no track can
    honour, which retrieval would drop in silence. ``row`` None (nothing played yet): the
    catalogue's median known value."""
    if row is None:
        known = values[np.isfinite(values)]
        return float(np.median(known)) if len(known) else float("nan")
    ref = float(values[row])
    if np.isfinite(ref):
        return ref
    for pool in (values[genres == genres[row]], values):
        known = pool[np.isfinite(pool)]
        if len(known):
            return float(np.median(known))
    return ref


def mask(arrays, directions: Directions) -> Optional[np.ndarray]:
    """Tracks that honour every direction (None when there is none)."""
    if not directions.relative and not directions.excluded and not directions.excluded_artists:
        return None
    cols = arrays.columns
    ok = np.ones(arrays.n, bool)
    for kind, row in directions.relative.values():
        if kind == "exclude_current_genre":
            ok &= cols["genre"] != cols["genre"][row]
            continue
        if kind in ABSOLUTE:
            feature, sign, line = ABSOLUTE[kind]
            values = np.asarray(cols[feature], dtype=float)
            ok &= values >= line if sign > 0 else values < line
            continue
        for feature, sign, margin in RELATIVE[kind]:
            if row is None:
                margin = max(margin, UNANCHORED_MARGIN.get(kind, margin))
            values = np.asarray(cols[feature], dtype=float)
            ref = reference_value(values, cols["genre"], row)
            ok &= (values - ref) * sign >= margin
    for g in directions.excluded:
        ok &= (cols["genre"] != g) & (cols["subgenre"] != g)
    for a in directions.excluded_artists:
        ok &= cols["artist_name"] != a
    return ok


def from_entities(entities) -> Tuple[List[str], List[str]]:
    """(critiques, seed track ids) in a parse's entities."""
    critiques, seeds = [], []
    for e in entities or []:
        if e.get("entity") == "critique" and e.get("value"):
            critiques.append(str(e["value"]))
        elif e.get("track_id") and (e.get("entity") == "work" or (e.get("entity") == "artist"
                                                                  and e.get("role") == "seed")):
            seeds.append(str(e["track_id"]))
    return critiques, seeds
