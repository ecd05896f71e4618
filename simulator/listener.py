"""Simulated listeners.

Each listener is a real session (a TidyTuesday playlist or a CPCD liked set,
``embeddings.histories.session_histories``): its first tracks are their listening history, and
the last ones, held back, are what they look for now. They have:

Goal (hidden): a seed track drawn from their held-back tracks (real taste: the same person chose
it with the rest of the session); its genre family, catalogue genre,
energy level and era, plus with some probability an activity and a mood it fits and its
artist. The target set is every track whose ``closeness`` to the goal reaches the
listener's ``pickiness``.

Traits (drawn per listener from the seed; see ``ListenerTraits``):

==============  ====================================================================
patience        user turns before giving up: 3 + Poisson(3) for most, 15% very patient
                (12-40 turns)
leads           opens with what they want ("play some upbeat 90s rock"), p=0.35
knowledge       how well they can name what they want, U(0.2, 1): the chance of
                naming genre/era/artist when asked
pickiness       closeness needed to accept, U(0.68, 0.86)
p_refine        chance to say what was wrong with a sample ("too slow"), U(0.3, 0.8)
p_change_mind   chance to switch energy level once mid-way, 0.05
emotiveness     scales how strongly sentiment is expressed, U(0.6, 1.2)
style           "chatty", "terse" or "voice" (lowercase, no punctuation)
==============  ====================================================================

Closeness of a track to the goal: weighted share of goal attributes it meets,
genre family 0.35, energy 0.25, era 0.15, catalogue genre 0.10, activity 0.10, mood 0.05
(weights of attributes the goal lacks are spread over the rest).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from music_domain.attributes import ACTIVITY_VALUES, MOOD_VALUES
from music_domain.dialogue_engine import Shown, UserMeaning
from music_domain.reactions import NEGATIVE_RUN, is_negative
from simulator.populations import BASELINE, Population

WEIGHTS = {"genre": 0.35, "energy": 0.25, "era": 0.15, "subgenre": 0.10, "activity": 0.10, "mood": 0.05}


@dataclass
class ListenerTraits:
    patience: int
    leads: bool
    knowledge: float
    pickiness: float
    p_refine: float
    p_change_mind: float
    emotiveness: float
    style: str


@dataclass
class Listener:
    user_id: str
    goal: Dict[str, str]
    seed_row: int
    traits: ListenerTraits
    rng: np.random.Generator
    known: Dict[str, bool] = field(default_factory=dict)
    turns: int = 0
    negative_streak: int = 0
    changed_mind: bool = False
    done: Optional[str] = None  # "accepted" | "abandoned"
    accepted_row: Optional[int] = None
    population: Population = BASELINE  # its choice model judges samples and stations

    # -- how close a track is ---------------------------------------------------------
    def closeness(self, arrays, row: int) -> float:
        total, hit = 0.0, 0.0
        for attr, w in WEIGHTS.items():
            value = self.goal.get(attr)
            if not value:
                continue
            total += w
            hit += w * arrays.matches(row, attr, value)
        return hit / total

    def sentiment_for(self, closeness: float) -> float:
        # Centred on the listener's own bar: at pickiness they are mildly positive.
        raw = np.tanh(4.0 * (closeness - self.traits.pickiness) + 0.6)
        s = raw * self.traits.emotiveness + self.rng.normal(0, 0.08)
        return float(np.clip(s, -1, 1))


def draw_listener(assets, rng: np.random.Generator, user_id: Optional[str] = None,
                  population: Population = BASELINE) -> Listener:
    """A listener with a goal drawn from a real session's held-back tracks (or, for a population's
    ``off_taste`` share, from the whole catalogue's music), traits from the population's trait model."""
    tm, term = population.traits, population.termination
    users = sorted(assets.goals)
    user_id = user_id or users[int(rng.integers(len(users)))]
    goals = assets.goals.get(user_id) or []
    if not goals or (tm.off_taste > 0 and rng.random() < tm.off_taste):
        music = np.flatnonzero(assets.arrays.music)
        seed_row = int(music[int(rng.integers(len(music)))])
    else:
        seed_row = int(goals[int(rng.integers(len(goals)))])
    track = assets.catalog.iloc[seed_row]
    goal = {"genre": track["genre"], "subgenre": track["subgenre"], "energy": track["energy_level"]}
    if track["era"] != "unknown":  # nobody can name the decade of a track of unknown year
        goal["era"] = track["era"]
    fitting = [a for a in ACTIVITY_VALUES if assets.arrays.matches(seed_row, "activity", a)]
    if fitting and rng.random() < 0.5:
        goal["activity"] = str(rng.choice(fitting))
    moods = [m for m in MOOD_VALUES if assets.arrays.matches(seed_row, "mood", m)]
    if moods and rng.random() < 0.3:
        goal["mood"] = moods[0]
    goal["artist"] = track["artist_name"]
    very_patient = rng.random() < term.very_patient_share
    traits = ListenerTraits(
        patience=int(rng.integers(*term.very_patient_range)) if very_patient
        else term.patience_base + int(rng.poisson(term.patience_mean)),
        leads=bool(rng.random() < tm.p_leads),
        knowledge=float(rng.uniform(*tm.knowledge)),
        pickiness=float(rng.uniform(*tm.pickiness)),
        p_refine=float(rng.uniform(*tm.p_refine)),
        p_change_mind=tm.p_change_mind,
        emotiveness=float(rng.uniform(0.6, 1.2)),
        style=str(rng.choice(["chatty", "terse", "voice"])),
    )
    k = traits.knowledge
    known = {"genre": rng.random() < 0.4 + 0.6 * k, "subgenre": rng.random() < 0.5 * k,
             "energy": rng.random() < 0.8 + 0.2 * k, "era": rng.random() < 0.25 + 0.6 * k,
             "activity": "activity" in goal, "mood": "mood" in goal, "artist": rng.random() < 0.35 * k}
    return Listener(user_id, goal, seed_row, traits, rng, known, population=population)


# -- replies ---------------------------------------------------------------------------
def opening(listener: Listener) -> UserMeaning:
    listener.turns += 1
    if listener.traits.leads:
        attrs = _volunteer(listener, n=int(listener.rng.integers(1, 4)))
        if attrs:
            return UserMeaning("request_music", attrs, sentiment=0.1)
    return UserMeaning("request_music", {}, sentiment=0.0)


def _volunteer(listener: Listener, n: int) -> Dict[str, str]:
    order = ["genre", "energy", "era", "activity", "subgenre", "mood", "artist"]
    known = [a for a in order if listener.known.get(a) and listener.goal.get(a)]
    picked = known[:n]
    out = {a: listener.goal[a] for a in picked}
    if "subgenre" in out:
        out.pop("genre", None)
    return out


def respond(listener: Listener, prompt: str, arrays, shown: Optional[Shown] = None) -> UserMeaning:
    """The listener's reply to a prompt and what it showed them (``MusicDialogueEngine.execute``).

    Offered to drop a constraint because nothing matches, the listener agrees (there is
    nothing else to hear). A station offer that found no station plays a sample instead, and
    gets a sample's reaction. With the population's ASR noise, a reply naming attributes (or a
    critique) may arrive as "I don't know"."""
    meaning = _respond(listener, prompt, arrays, shown)
    noise = listener.population.choice.mishear
    if noise > 0 and (meaning.attributes or getattr(meaning, "critiques", None)) and listener.rng.random() < noise:
        return UserMeaning("dont_know", {}, meaning.sentiment)
    return meaning


def _station_close_enough(listener: Listener, arrays, rows) -> tuple:
    choice = listener.population.choice
    bar = listener.traits.pickiness - choice.station_slack
    if choice.station_rule == "worst":
        c = float(min(listener.closeness(arrays, r) for r in rows[:3]))
    else:
        c = float(np.mean([listener.closeness(arrays, r) for r in rows[:5]]))
    return c >= bar, c


def _respond(listener: Listener, prompt: str, arrays, shown: Optional[Shown] = None) -> UserMeaning:
    rng, goal, known = listener.rng, listener.goal, listener.known
    shown = shown or Shown(prompt)
    if prompt == "offer_station" and not shown.rows and (shown.row is not None or shown.relax or shown.exhausted):
        prompt = "play_sample"
    listener.turns += 1
    if not listener.changed_mind and rng.random() < listener.traits.p_change_mind:
        listener.changed_mind = True
        goal["energy"] = "laid_back" if goal["energy"] == "upbeat" else "upbeat"
    if listener.turns > listener.traits.patience or listener.negative_streak >= NEGATIVE_RUN:
        listener.done = "abandoned"
        return UserMeaning("stop", {}, sentiment=-0.4)

    if prompt == "ask_open":
        attrs = _volunteer(listener, n=int(rng.integers(1, 3)))
        return UserMeaning("request_music", attrs, 0.1) if attrs else UserMeaning("surprise_me", {}, 0.0)
    if prompt in ("ask_energy", "ask_era", "ask_activity", "ask_artist"):
        attr = prompt[4:]
        if known.get(attr) and goal.get(attr):
            return UserMeaning("request_music", {attr: goal[attr]}, 0.1)
        return UserMeaning("dont_know", {}, -0.05)
    if prompt == "suggest_genres":
        offered = shown.genres
        if goal["genre"] in offered:
            return UserMeaning("choose_option", {}, 0.3, choice=offered.index(goal["genre"]))
        if known.get("genre"):
            return UserMeaning("request_music", {"genre": goal["genre"]}, -0.1)
        return UserMeaning("deny", {}, -0.2)
    if prompt == "play_sample":
        if shown.asks_to_relax:
            return UserMeaning("affirm", {}, 0.1)
        row = shown.row
        if row is None:
            return UserMeaning("dont_know", {}, -0.1)
        c = listener.closeness(arrays, row)
        s = listener.sentiment_for(c)
        if c >= listener.traits.pickiness:
            listener.negative_streak = 0
            if rng.random() < listener.population.choice.accept_base + 0.3 * (c - listener.traits.pickiness) / 0.2:
                listener.done, listener.accepted_row = "accepted", row
                return UserMeaning("accept", {}, max(s, 0.6))
            return UserMeaning("affirm", {}, max(s, LIKED))
        listener.negative_streak += 1 if is_negative(s) else 0
        attrs, critiques = {}, []
        if rng.random() < listener.traits.p_refine:
            wrong = [a for a in WEIGHTS if goal.get(a) and not arrays.matches(row, a, goal[a])
                     and (known.get(a) or a in ("energy", "genre"))]
            if wrong:
                critiques = critique_of(wrong[0], goal[wrong[0]], known)
                if not critiques:
                    attrs = {wrong[0]: goal[wrong[0]]}
        return UserMeaning("request_music" if attrs or critiques else "deny", attrs, min(s, 0.2),
                           critiques=critiques)
    if prompt == "offer_station":
        rows = shown.rows
        if not rows:
            return UserMeaning("deny", {}, -0.3)
        close, c = _station_close_enough(listener, arrays, rows)
        if close:
            listener.done, listener.accepted_row = "accepted", rows[0]
            return UserMeaning("accept", {}, listener.sentiment_for(c))
        listener.negative_streak += 1
        return UserMeaning("deny", {}, min(listener.sentiment_for(c), -0.1))
    raise ValueError(f"unknown prompt {prompt!r}")


LIKED = 0.45


def critique_of(attribute: str, goal_value: str, known: Dict[str, bool]) -> List[str]:
    """What was wrong with a sample, said relative to it as people do: the energy level is
    always a critique ("too slow": the sample was laid back and the goal upbeat, so the assistant
    reads it as "faster than that track"); a genre the listener cannot name is "not that genre".
    Empty when the listener names the value instead ("rock instead")."""
    if attribute == "energy":
        return ["faster" if goal_value == "upbeat" else "calmer"]
    if attribute == "genre" and not known.get("genre"):
        return ["exclude_current_genre"]
    return []
