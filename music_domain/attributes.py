"""The music attribute schema and the vocabulary every component normalises to.

Attributes a listener can state, and what each means on the catalogue:

=========  ==========================================  ===============================
attribute  values                                      catalogue constraint (hard)
=========  ==========================================  ===============================
genre      genre families (``GENRE_FAMILIES`` keys)     ``genre == value``
subgenre   catalogue genres (``alt-rock``, ``k-pop``)   ``subgenre == value``
energy     ``laid_back``, ``upbeat``                    energy < / >= ``ENERGY_SPLIT``
mood       ``happy``, ``melancholic``                   valence >= 0.55 / < 0.45
era        ``1990s`` ... ``2020s``                      year within the decade
activity   ``workout``, ``study``, ``party``, ...       audio-feature ranges (below)
artist     artist names from the catalogue              soft: a seed for similarity
=========  ==========================================  ===============================
"""
from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

ATTRIBUTES = ("genre", "subgenre", "energy", "mood", "era", "activity", "artist")
# The attributes the dialogue asks about, in the rule-based script's order.
ASKABLE_ATTRIBUTES = ("genre", "energy", "era", "activity", "artist")

ENERGY_SPLIT = 0.6
ENERGY_VALUES = ("laid_back", "upbeat")
MOOD_VALUES = ("happy", "melancholic")

# Catalogue genre -> genre family. Families are what "Alternative rock? Or electronic?"
# style suggestions and the ``genre`` slot use; the catalogue genre becomes ``subgenre``.
GENRE_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "pop": ("pop", "k-pop", "j-pop", "j-idol", "indie-pop", "indie", "cantopop", "mandopop", "power-pop",
            "synth-pop", "pop-film", "swedish", "sad", "anime", "dance-pop", "post-teen-pop", "electropop",
            "indie-poptimism", "show-tunes"),
    "hip hop": ("hip-hop", "southern-hip-hop", "gangster-rap", "trap", "hip-pop"),
    "electronic": (
        "dance", "electro", "edm", "deep-house", "house", "hardstyle", "electronic", "garage", "club",
        "progressive-house", "drum-and-bass", "techno", "trance", "minimal-techno", "breakbeat",
        "chicago-house", "detroit-techno", "dubstep", "party", "idm", "j-dance", "happy", "trip-hop",
        "electro-house", "big-room", "pop-edm", "progressive-electro-house",
    ),
    "rock": (
        "alt-rock", "alternative", "rock", "hard-rock", "psych-rock", "punk", "punk-rock", "rock-n-roll",
        "rockabilly", "emo", "goth", "industrial", "ska", "grunge", "j-rock", "british", "album-rock",
        "classic-rock", "permanent-wave",
    ),
    "metal": ("metal", "death-metal", "hardcore", "black-metal", "metalcore", "grindcore", "heavy-metal"),
    "country": ("country", "honky-tonk", "bluegrass"),
    "folk": ("folk", "acoustic", "singer-songwriter", "songwriter", "guitar"),
    "latin": ("sertanejo", "spanish", "forro", "samba", "salsa", "tango", "latin", "latino", "reggaeton",
              "brazil", "mpb", "pagode", "tropical", "latin-pop", "latin-hip-hop"),
    "soul and jazz": ("jazz", "blues", "soul", "gospel", "funk", "groove", "disco", "r-n-b",
                      "urban-contemporary", "new-jack-swing", "neo-soul"),
    # Calm instrumental styles. "chill" itself is an energy and a mood ("something chill" is
    # laid back), so Spotify's "chill" genre is the subgenre "chillout" here.
    "ambient": ("ambient", "chillout", "new-age", "piano", "study", "sleep"),
    "classical": ("classical", "opera"),
    "world": ("french", "german", "indian", "iranian", "malay", "turkish", "afrobeat", "dub", "dancehall",
              "reggae", "world-music", "romance"),
    "kids": ("children", "kids", "disney"),
    # Not music: never offered unless asked for by name (see ``NON_MUSIC_SUBGENRES``).
    "other": ("comedy", "white-noise", "spoken-word"),
}
# Source genre names that become another subgenre id here (a generic word would clash).
SOURCE_GENRE_IDS = {"chill": "chillout", "r-n-b": "r-n-b", "rnb": "r-n-b"}
# Subgenres of recordings that are not music (white noise, rain, spoken comedy): a catalogue
# marks such tracks with ``content`` != "music"; these are the ids they are filed under.
NON_MUSIC_SUBGENRES = ("white-noise", "spoken-word", "comedy")
SUBGENRE_TO_FAMILY = {sub: fam for fam, subs in GENRE_FAMILIES.items() for sub in subs}

# Spoken display names for catalogue genres whose id does not read well aloud.
SUBGENRE_DISPLAY = {
    "alt-rock": "alternative rock", "k-pop": "K-pop", "white-noise": "white noise and nature sounds",
    "j-pop": "J-pop", "j-rock": "J-rock", "idm": "IDM", "edm": "EDM", "hip-hop": "hip hop",
    "drum-and-bass": "drum and bass", "rock-n-roll": "rock and roll", "r-n-b": "R&B",
}

# Activities as audio-feature ranges: feature -> (low, high), inclusive.
ACTIVITY_RANGES: Dict[str, Dict[str, Tuple[float, float]]] = {
    "workout": {"energy": (0.7, 1.0), "tempo": (110.0, 250.0)},
    "study": {"energy": (0.0, 0.55), "speechiness": (0.0, 0.12)},
    "party": {"danceability": (0.65, 1.0), "energy": (0.6, 1.0)},
    # not dance music either: by energy alone the most popular "relaxing" tracks were Unholy
    # (energy 0.47, danceability 0.71), Memories, Falling and reggaeton hits (`make shell`,
    # "something for a rainy sunday"); 0.7 is about where party music starts (0.65 above)
    "relax": {"energy": (0.0, 0.5), "danceability": (0.0, 0.7)},
    "sleep": {"energy": (0.0, 0.35), "acousticness": (0.4, 1.0)},
    "driving": {"energy": (0.5, 0.9), "valence": (0.35, 1.0)},
    "dinner": {"energy": (0.15, 0.6), "acousticness": (0.2, 1.0)},
}
ACTIVITY_VALUES = tuple(ACTIVITY_RANGES)
# Spotify's own genre for an activity, where the catalogue has one: its tracks show what music
# for it sounds like (90% of "study" and 79% of "sleep" are instrumental, against 25% of all the
# tracks within the study ranges above), and retrieval prefers tracks near them
# (``HistoryAwareRetriever``), a preference, not a filter. By the ranges alone "something to study
# to" offered Unholy, Memories and Bad Bunny's Efecto (`make shell`). "party" is left out: in the
# 114k file it is German party schlager; the other activities have no such genre.
ACTIVITY_GENRES: Dict[str, str] = {"study": "study", "sleep": "sleep"}
# how the assistant says an activity after "for": "a station of ambient for relaxing"
ACTIVITY_PHRASES = {"workout": "a workout", "study": "studying", "party": "a party", "relax": "relaxing",
                    "sleep": "sleep", "driving": "driving", "dinner": "dinner"}


def activity_phrase(value: str) -> str:
    return ACTIVITY_PHRASES.get(value, str(value))

MOOD_RANGES = {"happy": ("valence", 0.55, 1.0), "melancholic": ("valence", 0.0, 0.45)}

ERA_VALUES = ("1960s", "1970s", "1980s", "1990s", "2000s", "2010s", "2020s")

# Surface form -> canonical value, per attribute. Genre names are added from the catalogue
# itself at load time (see ``Vocabulary.from_catalog``); these are the phrasings that a
# catalogue cannot supply.
_ENERGY_SYNONYMS = {
    "laid_back": (
        "laid back", "laidback", "laid-back", "chill", "chilled", "mellow", "calm", "relaxed", "relaxing",
        "slow", "quiet", "soft", "gentle", "low key", "lowkey", "easy", "easygoing", "downtempo", "slower",
        "calmer", "softer", "mellower", "smooth", "soothing", "peaceful", "easy listening", "slow paced",
        "slow-paced", "low energy", "low-energy", "chilled out", "serene", "tranquil",
    ),
    "upbeat": (
        "upbeat", "up beat", "energetic", "high energy", "lively", "fast", "pumping", "pumped", "hype",
        "loud", "intense", "faster", "livelier", "more energy", "bouncy", "banging", "bangers", "banger",
        "uptempo", "up-tempo",
        "pump me up", "pump up", "pumped up", "hype me up", "energizing", "energising", "fast paced", "fast-paced",
        "high tempo", "high-tempo", "hard hitting", "hard-hitting", "get me going", "get me moving", "wake me up", "upbeat-ish",
    ),
}
_MOOD_SYNONYMS = {
    "happy": ("happy", "cheerful", "feel good", "feel-good", "sunny", "joyful", "positive", "uplifting", "fun",
              "cheer me up", "cheer up", "lift my mood", "lift my spirits", "improve my mood", "boost my mood",
              "better mood", "good mood", "brighten my day", "make me smile", "good vibes", "joyous", "happier"),
    "melancholic": ("sad", "melancholic", "melancholy", "moody", "gloomy", "bittersweet", "heartbreak", "dark", "blue",
                    "feeling blue", "depressed", "depressing", "lonely", "loneliness", "heartbroken", "feeling down",
                    "feel down", "feeling low", "breakup", "break up", "sorrow", "sorrowful", "somber", "sombre",
                    "crying", "cry", "grief", "grieving", "miserable", "sadder"),
}
_ACTIVITY_SYNONYMS = {
    "workout": ("workout", "work out", "working out", "workouts", "gym", "running", "run", "exercise", "exercising",
                "training", "jogging", "jog", "lifting", "cardio", "weightlifting", "lifting weights", "crossfit",
                "spin class", "marathon", "hiit"),
    "study": ("study", "studying", "focus", "focusing", "concentrate", "concentration", "homework", "reading", "work",
              "working", "coding", "programming", "while i work", "while working", "at work", "the office",
              "office", "deep work", "writing", "revision", "revising", "exam", "exams"),
    "party": ("party", "partying", "dancing", "dance", "dance floor", "pregame", "pregaming", "club night",
              "celebration", "celebrate", "rave", "friends over", "get together", "get-together", "house party",
              "clubbing", "birthday", "bbq", "barbecue"),
    "relax": ("relax", "relaxing", "relaxation", "unwind", "unwinding", "chilling out", "lazy sunday", "rainy day",
              "rainy sunday", "meditate", "meditation", "meditating", "wind down", "winding down", "yoga",
              "de-stress", "destress", "decompress", "after work", "take it easy", "lazy afternoon"),
    "sleep": ("sleep", "sleeping", "bedtime", "fall asleep", "nap", "falling asleep", "insomnia", "lullaby",
              "lullabies", "go to sleep", "drift off", "nighttime"),
    "driving": ("driving", "drive", "road trip", "commute", "commuting", "in the car", "car ride", "traffic",
                "long drive", "highway", "on the road", "roadtrip", "road-trip"),
    "dinner": ("dinner", "cooking", "dinner party", "date night", "eating", "cook", "brunch", "making dinner",
               "dinner date", "cooking dinner", "meal"),
}
_GENRE_FAMILY_SYNONYMS = {
    "hip hop": ("hip hop", "hiphop", "hip-hop", "rap", "rap music"),
    "electronic": ("electronic", "electronica", "dance music", "edm", "electro", "techno", "house"),
    "rock": ("rock", "rock music", "guitar music"),
    "metal": ("metal", "heavy metal", "metalhead"),
    "soul and jazz": ("soul", "jazz", "blues", "funk", "r&b", "rnb", "r and b", "rhythm and blues", "motown"),
    "ambient": ("ambient", "chillout", "chill out", "lofi", "lo-fi", "lo fi", "new age"),
    "classical": ("classical", "orchestral", "opera", "symphony"),
    "latin": ("latin", "reggaeton", "salsa", "samba"),
    "folk": ("folk", "acoustic", "singer songwriter", "singer-songwriter"),
    "country": ("country", "country music", "americana"),
    "pop": ("pop", "pop music", "chart music", "top 40"),
    "world": ("world", "world music", "afrobeat", "afrobeats", "afro", "afropop", "afro pop", "reggae", "dancehall"),
}
_SUBGENRE_SYNONYMS = {
    "alt-rock": ("alt rock", "alt-rock", "alternative rock", "alternative", "indie rock"),
    "indie-pop": ("indie pop", "indie-pop", "indie"),
    "k-pop": ("k-pop", "kpop", "k pop", "korean pop"),
    "hard-rock": ("hard rock", "hard-rock"),
    "punk": ("punk", "punk rock", "pop punk", "pop-punk"),
    "death-metal": ("death metal",),
    "deep-house": ("deep house",),
    "drum-and-bass": ("drum and bass", "drum n bass", "dnb"),
    "singer-songwriter": ("singer songwriter", "singer-songwriter"),
    "psych-rock": ("psychedelic rock", "psych rock"),
    "trip-hop": ("trip hop", "trip-hop"),
    "hip-hop": ("hip hop", "hip-hop"),  # "rap", "hiphop": the family (it has several subgenres)
    "white-noise": ("white noise", "brown noise", "pink noise", "rain sounds", "nature sounds", "sleep sounds",
                    "ocean sounds"),
    "spoken-word": ("spoken word", "audiobook", "podcast"),
    "chillout": ("chillout", "chill out", "chill-out"),
}
_ERA_WORDS = {
    "sixties": "1960s", "seventies": "1970s", "eighties": "1980s", "nineties": "1990s",
    "noughties": "2000s", "naughties": "2000s", "two thousands": "2000s", "aughts": "2000s",
    "twenty tens": "2010s", "tens": "2010s", "twenties": "2020s",
}


def era_of_year(year: int) -> str:
    """The decade a release year falls in, e.g. 1994 -> '1990s'."""
    return f"{(int(year) // 10) * 10}s"


def era_year_range(era: str) -> Tuple[int, int]:
    start = int(era[:4])
    return start, start + 9


def activity_energy(activity: Optional[str]) -> Optional[str]:
    """The energy level an activity implies: its energy range lies on one side of
    ``ENERGY_SPLIT`` (workout and party are upbeat; relax, sleep, study and dinner laid back), or
    None when it spans both (driving). Asking "Something laid back? Or more upbeat?" after "music
    for a workout" asked what the listener had just said (`make shell`)."""
    lo, hi = ACTIVITY_RANGES.get(str(activity), {}).get("energy", (0.0, 1.0))
    if lo >= ENERGY_SPLIT:
        return "upbeat"
    if hi <= ENERGY_SPLIT:
        return "laid_back"
    return None


def energy_of(value: float) -> str:
    return "upbeat" if value >= ENERGY_SPLIT else "laid_back"


def display_genre(value: str) -> str:
    """How a genre or subgenre id is said to a listener."""
    return SUBGENRE_DISPLAY.get(value, value.replace("-", " "))


def _norm(text: str) -> str:
    text = text.lower().strip()
    text = re.sub(r"[^\w&\s'-]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def normalise_era(text: str) -> Optional[str]:
    """'nineties', '90s', "the 90's", '1990s', '1994', '2010' -> a decade, or None."""
    t = _norm(text).replace("'", "")
    if t.startswith("the "):
        t = t[4:]
    if t in _ERA_WORDS:
        return _ERA_WORDS[t]
    m = re.fullmatch(r"(19|20)?(\d)0s?", t)
    if m:
        century = m.group(1) or ("20" if m.group(2) in "012" else "19")
        return f"{century}{m.group(2)}0s"
    m = re.fullmatch(r"(19|20)(\d{2})", t)
    if m:
        return era_of_year(int(t))
    return None


class Vocabulary:
    """Surface form -> canonical value for every attribute.

    Genre, subgenre and artist names come from the catalogue it is built from, so a
    user's own catalogue brings its own vocabulary.
    """

    def __init__(self, subgenres, families, artists):
        self.subgenres = tuple(sorted(set(subgenres)))
        self.families = tuple(sorted(set(families)))
        self.artists = tuple(sorted(set(artists)))
        self._forms: Dict[str, Dict[str, str]] = {a: {} for a in ATTRIBUTES}
        for value, forms in _ENERGY_SYNONYMS.items():
            self._add("energy", value, forms)
        for value, forms in _MOOD_SYNONYMS.items():
            self._add("mood", value, forms)
        for value, forms in _ACTIVITY_SYNONYMS.items():
            self._add("activity", value, forms)
        for fam in self.families:
            self._add("genre", fam, (fam,) + _GENRE_FAMILY_SYNONYMS.get(fam, ()))
        for sub in self.subgenres:
            forms = (sub, sub.replace("-", " "), display_genre(sub)) + _SUBGENRE_SYNONYMS.get(sub, ())
            self._add("subgenre", sub, forms)
        for artist in self.artists:
            self._add("artist", artist, (artist,))

    def _add(self, attribute: str, value: str, forms) -> None:
        for form in forms:
            self._forms[attribute].setdefault(_norm(form), value)

    @classmethod
    def from_catalog(cls, catalog) -> "Vocabulary":
        return cls(catalog["subgenre"].unique(), catalog["genre"].unique(), catalog["artist_name"].unique())

    def surface_forms(self, attribute: str) -> Dict[str, str]:
        return dict(self._forms[attribute])

    def normalise(self, attribute: str, text: str) -> Optional[str]:
        """Canonical value of ``text`` for ``attribute``, or None if it is not one."""
        if text is None:
            return None
        if attribute == "era":
            return normalise_era(str(text))
        key = _norm(str(text))
        if attribute == "genre":
            # A genre entity may name a family ("rock") or a catalogue genre ("alt rock").
            if key in self._forms["genre"]:
                return self._forms["genre"][key]
            sub = self._forms["subgenre"].get(key)
            return SUBGENRE_TO_FAMILY.get(sub, sub) if sub else None
        return self._forms[attribute].get(key)

    def normalise_genre(self, text: str) -> Tuple[Optional[str], Optional[str]]:
        """(family, subgenre) for a genre mention; subgenre is None for a bare family."""
        key = _norm(str(text))
        sub = self._forms["subgenre"].get(key)
        fam = self._forms["genre"].get(key)
        if fam and (sub is None or key == _norm(fam)):
            return fam, None
        if sub:
            return SUBGENRE_TO_FAMILY.get(sub, sub), sub
        return None, None
