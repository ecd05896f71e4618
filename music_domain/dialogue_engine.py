"""What the system does for each prompt, and how a listener's reply changes the state.

The one prompt executor: ``MusicDialogueEngine.execute(prompt, state)`` carries out a prompt
(genre suggestions, sample choice, stations, relaxation when nothing matches) and returns
what the listener is shown (``Shown``). The Rasa action server (``actions/``) only renders it,
and the fast simulator hands it to the simulated listener, so the deployed and the simulated
assistant are the same code. The Rasa prompt policy uses the engine for candidate features.

Relaxation asks first: when nothing matches the slots, ``execute`` returns the constraint it
would drop (``Shown.relax``) and plays nothing; if the listener agrees,
``relax(state, attribute)`` drops it and plays a sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from music_domain import critiques as critique_rules
from music_domain.attributes import ENERGY_VALUES, SUBGENRE_TO_FAMILY, activity_energy
from music_domain.catalog import best_known_track
from music_domain.dialogue_state import DialogueState
from music_domain.reactions import LIKED_SENTIMENT, NOT_REACTIONS, is_liked, is_negative

DECLINED_STATION_SEEDS = 3  # a declined station's first tracks count as rejected samples
STATION_SIZE = 10
# attributes a track can be checked against (CatalogArrays.matches)
MATCHABLE = ("genre", "subgenre", "energy", "era", "activity", "mood", "artist")


@dataclass
class UserMeaning:
    """A listener's message as the dialogue sees it (from NLU, or straight from the simulator)."""
    intent: str
    attributes: Dict[str, str] = field(default_factory=dict)
    sentiment: float = 0.0
    confidence: float = 1.0
    choice: Optional[int] = None  # "the second one" -> 1
    critiques: List[str] = field(default_factory=list)  # "faster", "exclude_genre:country" (music_domain.critiques)
    seeds: List[str] = field(default_factory=list)  # track ids of named songs
    # named artists/works the catalogue lacks: {"name", "type", "vein" (a genre family or None)}
    unknown: List[Dict[str, Optional[str]]] = field(default_factory=list)
    play: List[str] = field(default_factory=list)  # the seeds asked for as such ("play Creep", not "like Creep")

    def to_dict(self) -> dict:
        return {"intent": self.intent, "attributes": dict(self.attributes), "sentiment": self.sentiment,
                "confidence": self.confidence, "choice": self.choice, "critiques": list(self.critiques),
                "seeds": list(self.seeds), "play": list(self.play), "unknown": [dict(u) for u in self.unknown]}


@dataclass
class Shown:
    """What a prompt showed the listener."""
    prompt: str
    genres: List[str] = field(default_factory=list)  # suggest_genres: the two genre families offered
    row: Optional[int] = None  # the sample played (catalogue row)
    rows: List[int] = field(default_factory=list)  # offer_station: the station's rows
    relax: Optional[str] = None  # nothing matches: the constraint offered to be dropped (not dropped yet)
    exhausted: bool = False  # every matching track was already played
    dropped: Optional[str] = None  # the constraint dropped (after the listener agreed) before this sample
    unknown_year: int = 0  # nothing matches an era: tracks that fit all else but have no known year

    @property
    def asks_to_relax(self) -> bool:
        return self.relax is not None


class MusicDialogueEngine:
    def __init__(self, assets, use_history: bool = True):
        self.assets = assets
        self.arrays = assets.arrays
        self.retriever = assets.retriever
        self.use_history = use_history
        self._families = self.arrays.columns["genre"]

    # -- candidates ------------------------------------------------------------------
    def rank(self, state: DialogueState, k: int = 5, slots: Optional[dict] = None):
        return self.retriever.rank(slots if slots is not None else state.slots, user_id=state.user_id,
                                   use_history=self.use_history, exclude=state.samples + state.known + state.references,
                                   rejected=state.rejected, k=k,
                                   allowed=critique_rules.mask(self.arrays, state.directions),
                                   seeds=state.directions.seeds)

    def refresh_candidates(self, state: DialogueState):
        ranked = self.rank(state)
        state.candidates = ranked.features
        return ranked

    # -- system prompts ----------------------------------------------------------------
    def suggest_genres(self, state: DialogueState) -> List[str]:
        """Two genre families to offer: the most likely among the current candidates,
        weighted by the listener's history when it is used, never ones already offered (unless
        fewer than two are left) and never ones the listener excluded."""
        slots = {**state.slots, "genre": None, "subgenre": None}
        mask = self.arrays.mask(slots)
        if not mask.any():
            mask = np.ones(self.arrays.n, bool)
        weight = self.arrays.columns["popularity"] / 100.0 + 0.5
        profile = self.retriever.profile(state.user_id) if self.use_history else None
        if profile is not None:
            rows = self.assets.profiles.played(state.user_id)
            played = np.zeros(self.arrays.n, bool)
            played[rows] = True
            weight = weight + 25.0 * played  # families of tracks the listener played
        families = self._families[mask]
        totals: Dict[str, float] = {}
        for fam, w in zip(families, weight[mask]):
            totals[fam] = totals.get(fam, 0.0) + float(w)
        excluded = set(state.directions.excluded)  # "no more rock": never offered again
        by_weight = [f for f, _ in sorted(totals.items(), key=lambda kv: -kv[1]) if f not in excluded]
        ranked = [f for f in by_weight if f not in state.offered_genres]
        if len(ranked) < 2:
            ranked += [f for f in by_weight if f not in ranked]
        pair = ranked[:2]
        state.offered_genres.extend(pair)
        return pair

    # -- the prompt executor -------------------------------------------------------------
    def execute(self, prompt: str, state: DialogueState) -> Shown:
        """Carry out ``prompt`` on the system side and record it in ``state``."""
        if prompt == "suggest_genres":
            shown = Shown(prompt, genres=self.suggest_genres(state))
        elif prompt == "play_sample":
            shown = self._sample(state, prompt)
        elif prompt == "offer_station":
            rows = self.station(state)
            shown = Shown(prompt, rows=rows) if rows else self._sample(state, prompt)  # no station: a sample
        else:
            shown = Shown(prompt)  # a question: nothing to look up
        state.record_prompt(prompt)
        return shown

    def relax(self, state: DialogueState, attribute: Optional[str]) -> Shown:
        """The listener agreed to drop ``attribute`` (offered by ``execute``): drop it (a genre
        family takes its subgenre with it) and play a sample."""
        dropped = None
        state.pending_relax = None
        if attribute in state.slots:
            state.slots[attribute] = None
            if attribute == "genre":
                state.slots["subgenre"] = None
            dropped = attribute
        shown = self._sample(state, "play_sample")
        shown.dropped = dropped
        return shown

    def _sample(self, state: DialogueState, prompt: str) -> Shown:
        relax = self.relax_if_empty(state)
        if relax:  # "Nothing matches upbeat 90s rock. Shall I drop the era?"
            state.pending_relax = relax
            return Shown(prompt, relax=relax, unknown_year=self.arrays.unknown_year(state.slots))
        row = self.pick_sample(state)
        if row is None:  # every matching track was already played, or nothing matches what the listener keeps
            # "That's everything I have ... Shall I drop the era?" is a question as above: a yes drops it
            state.pending_relax = self.arrays.relaxation(state.slots, state.kept)
            return Shown(prompt, relax=state.pending_relax, exhausted=True)
        return Shown(prompt, row=row)

    def accepted_station(self, state: DialogueState) -> Tuple[str, List[int]]:
        """What the listener accepted, as ``(source, rows)``: ``"offered"``, the station just
        offered; else ``"sample"``, a station that starts with the last sample and goes on with
        tracks like it; else ``"request"`` (nothing played yet: "play me a jazz station" as the
        first words), a station of what the listener asked for, whose rows are empty when nothing
        matches it; else ``"nothing"`` with no rows: nothing was played or asked for, so there is
        nothing to start yet (the caller asks what to play instead of starting an arbitrary one).
        Sets ``state.station``."""
        if state.last_prompt == "offer_station" and state.station:
            return "offered", list(state.station)
        if state.samples:  # "play more like this": a station seeded by the sample playing
            state.liked_sample = state.samples[-1]
            return "sample", self.station(state)
        if any(state.filled().values()):
            return "request", self.station(state)
        return "nothing", []

    def relax_if_empty(self, state: DialogueState) -> Optional[str]:
        """If nothing matches the slots, the constraint to drop (the caller asks first): never
        one the listener said no to dropping ("Shall I drop the activity?" "no" was asked again)."""
        if self.arrays.mask(state.slots).any():
            return None
        return self.arrays.relaxation(state.slots, state.kept)

    def pick_sample(self, state: DialogueState) -> Optional[int]:
        row, state.play_next = state.play_next, None
        if row is not None and row not in state.samples and self.arrays.mask(state.slots)[row]:
            allowed = critique_rules.mask(self.arrays, state.directions)
            if allowed is None or allowed[row]:
                state.samples.append(row)  # the song the listener asked for by name
                return row
        ranked = self.rank(state, k=1)
        if ranked.empty:
            return None
        row = int(ranked.rows[0])
        state.samples.append(row)
        return row

    def station(self, state: DialogueState) -> List[int]:
        """A station: tracks like the liked sample within the slots, else the best candidates."""
        if state.liked_sample is not None:
            seed = self.assets.index.vectors[state.liked_sample]
            mask = self.arrays.mask(state.slots)
            directed = critique_rules.mask(self.arrays, state.directions)
            if directed is not None and (mask & directed).sum() > 1:
                mask &= directed
            mask[self.arrays.same_songs(state.rejected + state.references)] = False
            # its nearest neighbour is often the liked song's other release: a station plays
            # each song once, so it looks a little further
            rows, _ = self.assets.index.search(seed, 2 * STATION_SIZE, allowed=mask if mask.any() else None)
            rows = [state.liked_sample] + [int(r) for r in rows if r != state.liked_sample]
            rows = np.asarray(rows, dtype=int)[self.arrays.first_of_each_song(rows)]
            state.station = [int(r) for r in rows[:STATION_SIZE]]
        else:
            state.station = [int(r) for r in self.rank(state, k=STATION_SIZE).rows]
        return list(state.station)

    def station_keeps_to_slots(self, state: DialogueState) -> bool:
        """Can a station keep to the slots (some track not turned down matches them)? One that
        cannot goes by its seed alone, and is not described by the slots."""
        mask = self.arrays.mask(state.slots)
        mask[state.rejected] = False
        return bool(mask.any())

    # -- listener replies --------------------------------------------------------------
    def apply_user(self, state: DialogueState, meaning: UserMeaning) -> Dict[str, str]:
        """Update the state with a reply; returns the attribute values it changed (a value the
        listener repeats is not new information, so it earns its prompt no usefulness)."""
        if meaning.intent in NOT_REACTIONS:
            # "who is this?" during a sample was read as a yes (its words are positive) and started
            # a station; after a station offer any such question declined it (`make shell`)
            return {}
        state.sentiments.append(float(meaning.sentiment))
        state.nlu_confidence = float(meaning.confidence)
        if state.pending_relax:
            # the answer to "Shall I drop the era?": a no keeps it (the next offer names another
            # constraint); a yes is carried out by `relax`, anything else leaves the question
            if meaning.intent == "deny" and state.pending_relax not in state.kept:
                state.kept.append(state.pending_relax)
            if meaning.intent not in ("affirm", "accept"):
                state.pending_relax = None
        if meaning.intent == "surprise_me" and not state.asked.get("ask_open"):
            # "surprise me" before the open question was asked answers it: "Anything in mind?"
            # next would ask what the listener has just said (`make shell`)
            state.asked["ask_open"] = 1
        elicited: Dict[str, str] = {}
        if meaning.choice is not None and state.last_prompt == "suggest_genres" and state.offered_genres:
            offered = state.offered_genres[-2:]
            if 0 <= meaning.choice < len(offered):
                elicited["genre"] = offered[meaning.choice]
        elif meaning.choice is not None and state.last_prompt == "ask_energy" and not meaning.attributes.get("energy"):
            # "Something laid back? Or more upbeat?" "the first one": every wording of the question
            # (domain.yml, utter_ask_energy) offers them in this order
            if 0 <= meaning.choice < len(ENERGY_VALUES):
                elicited["energy"] = ENERGY_VALUES[meaning.choice]
        elif meaning.intent == "affirm" and state.last_prompt == "suggest_genres" and state.offered_genres \
                and not meaning.attributes.get("genre") and not meaning.attributes.get("subgenre"):
            # "Pop? Or soul and jazz?" "sure": either will do, so the first, the likelier one for
            # them (suggest_genres' order); it was ignored and two more genres were offered
            elicited["genre"] = state.offered_genres[-2:][0]
        for attr, value in meaning.attributes.items():
            if value:
                elicited[attr] = value
        # What a request named, for the next prompt: a catalogue artist, a song (a seed) or the
        # vein of an unknown artist can be answered with a sample; a bare unknown name cannot.
        # Only requests count: a name heard in "I don't mind" or "no" does not steer the dialogue.
        state.named = []
        if meaning.intent == "request_music":
            veins = [u["vein"] for u in meaning.unknown if u.get("vein")]
            if veins and not elicited.get("genre") and not elicited.get("subgenre"):
                elicited["genre"] = veins[0]  # "like Aphex Twin" (not in the catalogue): their genre family
            if meaning.attributes.get("artist"):
                state.named.append(f"artist:{meaning.attributes['artist']}")
            state.named += [f"work:{t}" for t in meaning.seeds] + [f"vein:{v}" for v in veins]
            state.named += [f"unknown:{u.get('name')}" for u in meaning.unknown if not u.get("vein")]
        critiqued = self.apply_critiques(state, meaning, elicited)
        implied = activity_energy(elicited.get("activity"))
        if implied and not elicited.get("energy"):
            # "something for a workout" says upbeat (a critique or an energy said with it wins)
            elicited["energy"] = implied
        if elicited.get("subgenre") and elicited.get("genre") and \
                SUBGENRE_TO_FAMILY.get(elicited["subgenre"], elicited["subgenre"]) != elicited["genre"]:
            # "pop or jazz, I don't mind": two families in one breath, and the slots hold one; the
            # family named as a genre is kept (pop with a jazz subgenre matches no track)
            del elicited["subgenre"]
        if "subgenre" in elicited:
            elicited.setdefault("genre", SUBGENRE_TO_FAMILY.get(elicited["subgenre"], elicited["subgenre"]))
        if "genre" in elicited and state.slots.get("subgenre") and \
                SUBGENRE_TO_FAMILY.get(state.slots["subgenre"]) != elicited["genre"]:
            state.slots["subgenre"] = None  # a new family overrides an old subgenre
        new = {a: v for a, v in elicited.items() if state.slots.get(a) != v}
        state.kept = [a for a in state.kept if a not in new]  # a constraint said anew may be offered again
        for attr, value in elicited.items():
            state.slots[attr] = value
        if meaning.intent == "request_music" and elicited.get("artist"):
            self.yield_to_named_artist(state, elicited)
        # "start it", or "yes" to an offered station, takes what is playing or offered whatever its
        # tone: a sentiment model reads "start it" or "go ahead" as neutral or negative, and the
        # station the listener started must not be replayed as one they turned down
        taking = meaning.intent == "accept" or (meaning.intent == "affirm" and state.last_prompt == "offer_station")
        # a critique asks for a change, however cheerful its words ("more upbeat" read as liked
        # offered a station that started with the track just critiqued, `make shell`); only "more
        # like that" does not
        changes = [c for c in critiqued if c != "more_like"]
        # "too slow", "more like that", "more like that but newer": said of the track, which stays
        # their reference (below)
        relative = bool(critiqued) and all(c in critique_rules.RELATIVE or c == "more_like" for c in critiqued)
        liked = taking or (is_liked(meaning.sentiment) and not changes
                           and not self.asks_for_other_music(state, meaning, elicited))
        picked = self.picked_sample(state, meaning)
        if picked is not None:
            # "the second one" after two samples: that track is the one the listener likes, whatever
            # the tone of the words (read as neutral); the sentiment the policy sees says so too
            state.liked_sample = picked
            state.sentiments[-1] = max(state.sentiments[-1], LIKED_SENTIMENT)
            state.negative_streak = 0
            if state.last_prompt == "offer_station" and state.station and state.station[0] != picked:
                state.station = []  # another track than the offered station's was picked
            return new
        if state.last_prompt == "play_sample" and state.samples:
            last = state.samples[-1]
            if liked:
                state.liked_sample = last
            elif any(c.startswith("exclude_artist:") for c in critiqued) and \
                    all(c.startswith("exclude_artist:") or c == "more_like" for c in critiqued):
                # "not nirvana though": the artist is what is wrong, and their tracks are excluded;
                # the sound is not, so retrieval does not move away from it
                state.liked_sample = None
            elif relative:
                # "too slow", "something newer", in any tone: the listener said what is wrong, so the
                # track is the reference the critique is relative to (the critiquing recommenders'
                # "tweak"), not a sound to move away from as a rejected sample is. Counted as
                # rejected, retrieval's novelty term left its sound altogether: "play hotel
                # california" ... "something newer" played reggaeton, and "no not that, too
                # intense" after My Sharona played Sam Smith (a Twilio call). It is never played
                # again, in a sample or a station (`state.references`).
                state.liked_sample = None
                if last not in state.references:
                    state.references.append(last)
            elif is_negative(meaning.sentiment) or elicited or critiqued:
                state.rejected.append(last)
                state.liked_sample = None
        if state.last_prompt == "offer_station" and state.station and not liked:
            if relative:
                # "something more upbeat" to a station: its first track is the reference of the
                # direction (the sample the listener liked, often), not a sound to move away from
                if state.station[0] not in state.references:
                    state.references.append(state.station[0])
            else:
                # A declined station: its seed tracks count as rejected, so the next station or
                # sample moves away from it instead of offering the same one again.
                state.rejected.extend(r for r in state.station[:DECLINED_STATION_SEEDS] if r not in state.rejected)
            state.liked_sample = None
            state.station = []
        if state.last_prompt in ("play_sample", "offer_station"):
            if liked:
                state.negative_streak = 0
            elif is_negative(meaning.sentiment):
                state.negative_streak += 1
        return new

    @staticmethod
    def picked_sample(state: DialogueState, meaning: UserMeaning) -> Optional[int]:
        """The track a listener picks by its place ("the first one", "the second one") in reply
        to a sample or a station offer, among the tracks played in this conversation (the samples,
        then the first track of the station just offered), when that many were; else None. After
        a genre suggestion the same words pick a genre (``apply_user``)."""
        if meaning.choice is None or state.last_prompt not in ("play_sample", "offer_station") \
                or meaning.attributes or meaning.critiques:
            return None
        played = list(state.samples)
        if state.last_prompt == "offer_station" and state.station and state.station[0] not in played:
            played.append(state.station[0])
        if 0 <= meaning.choice < len(played):
            return int(played[meaning.choice])
        return None

    def asks_for_other_music(self, state: DialogueState, meaning: UserMeaning, elicited: Dict[str, str]) -> bool:
        """Does a request name what the track just played (the sample, or the offered station's
        first track) is not? "something by taylor swift" said cheerfully after a Bad Bunny sample
        asks for other music, it does not like the sample (whose station was then offered)."""
        if meaning.intent != "request_music":
            return False
        if state.last_prompt == "offer_station" and state.station:
            played = state.station[0]
        elif state.last_prompt == "play_sample" and state.samples:
            played = state.samples[-1]
        else:
            return False
        return any(not self.arrays.matches(played, a, v) for a, v in elicited.items() if a in MATCHABLE and v) \
            or any(self.assets.row_of(t) not in (None, played) for t in meaning.seeds)  # "something like Creep!"

    def yield_to_named_artist(self, state: DialogueState, elicited: Dict[str, str]) -> List[str]:
        """The latest words win: an artist named now ("Metallica" after "chill pop") drops the
        constraints of earlier turns that leave none of that artist's tracks, one at a time in
        the order genre, subgenre, energy, era, activity, until one of the artist's tracks fits.
        Constraints said in the same message ("chill Metallica") are kept. Returns the dropped
        attributes."""
        from music_domain.search import HARD_CONSTRAINTS

        own = self.retriever.artist_rows(elicited["artist"])
        dropped: List[str] = []
        if not len(own):
            return dropped
        for attr in HARD_CONSTRAINTS:
            if self.arrays.mask(state.slots)[own].any():
                break
            if state.slots.get(attr) and attr not in elicited:
                state.slots[attr] = None
                dropped.append(attr)
        return dropped

    def apply_critiques(self, state: DialogueState, meaning: UserMeaning, elicited: Dict[str, str]) -> List[str]:
        """Critiques become directions relative to the track just played (the sample, or the
        station's first track), and ``state.critiqued`` says whether this message made one; a
        critique that implies the energy slot ("too slow", "more upbeat") also fills it, and songs
        named in a request become seeds."""
        reference = None
        if state.last_prompt == "offer_station" and state.station:
            reference = state.station[0]
        elif state.samples:
            reference = state.samples[-1]
        # an excluded artist asked for again ("not nirvana" ... "actually, play nirvana") is back
        asked = meaning.attributes.get("artist") if meaning.intent == "request_music" else None
        if asked in state.directions.excluded_artists and f"exclude_artist:{asked}" not in meaning.critiques:
            state.directions.excluded_artists.remove(asked)
        critiques = list(meaning.critiques)
        if reference is None and state.slots.get("genre"):
            # "not that genre" before anything was played: the genre the listener picked
            # ("Electronic? Or pop?" "the first one" ... "not that genre") is the one meant
            critiques = [f"exclude_genre:{state.slots['genre']}" if c == "exclude_current_genre" else c
                         for c in critiques]
        done = critique_rules.apply(state.directions, critiques, reference)
        # what the prompt policy sees: this message critiqued the track just played
        state.critiqued = list(done) if reference is not None else []
        # "more upbeat" answering "Something laid back? Or more upbeat?" before anything was
        # played is no critique of a track, but it still says the energy
        for c in done if reference is not None else critiques:
            energy = critique_rules.implied_energy(c)
            if energy and "energy" not in elicited:
                elicited["energy"] = energy
        if reference is not None:
            if "exclude_current_genre" in done and state.slots.get("genre") == self._families[reference]:
                state.slots["genre"] = state.slots["subgenre"] = None
            if "era" not in elicited:  # "the 80s" ... "too old": the 90s
                for c in done:
                    state.slots["era"] = critique_rules.stepped_era(c, state.slots.get("era"))
        if "mood" not in elicited and state.slots.get("mood"):
            # "something sad" ... "too depressing": no longer melancholic, whether or not a track
            # was played (the station was still described as "melancholic music")
            for c in done:
                state.slots["mood"] = critique_rules.stepped_mood(c, state.slots.get("mood"))
        for g in state.directions.excluded:
            if state.slots.get("genre") == g or state.slots.get("subgenre") == g:
                state.slots["genre"] = state.slots["subgenre"] = None
        if state.slots.get("artist") in state.directions.excluded_artists:
            # "something like nirvana", then "not nirvana though": like them, not by them. The
            # artist leaves the slot, and their track last played (else their best known) stays
            # as a seed for the sound
            artist = state.slots["artist"]
            state.slots["artist"] = None
            theirs = next((r for r in reversed(state.samples) if self.arrays.columns["artist_name"][r] == artist),
                          None)
            if theirs is None:
                theirs = best_known_track(self.assets.catalog, artist)
            if theirs is not None and theirs not in state.directions.seeds:
                state.directions.seeds.insert(0, int(theirs))
        artist = state.slots.get("artist")
        if artist and done and elicited.get("artist") != artist:
            # "something like boards of canada" ... "less electronic": a critique none of the artist's
            # tracks honours is the latest word, so the artist leaves the slot (their tracks were
            # still among the candidates, and the next sample was theirs again)
            ok = critique_rules.mask(self.arrays, state.directions)
            own = self.retriever.artist_rows(artist)
            if ok is not None and len(own) and not ok[own].any():
                state.slots["artist"] = None
        for track_id in (meaning.seeds if meaning.intent == "request_music" else ()):
            # only a request names a song to go by: "i like it" after a sample is a yes, not the
            # song "I Like It"
            row = self.assets.row_of(track_id)
            if row is not None and row not in state.samples:
                # "play Bohemian Rhapsody" plays it; "something like it" plays music like it, and
                # the song itself, which the listener knows, is no sample
                if track_id in meaning.play:
                    state.play_next = row
                elif row not in state.known:
                    state.known.append(row)
            if row is not None and row not in state.directions.seeds:
                state.directions.seeds.insert(0, row)
                done.append(f"seed:{track_id}")
        return done

