"""A critique in words through the whole stack: NLU, policy, action server, tracker replay."""
import asyncio

import pytest

from conftest import ROOT, agent_with_actions, trained_model


@pytest.mark.slow  # a trained model, an agent and the action server
def test_too_slow_after_a_sample_is_kept_relative_to_it_and_honoured(action_server, assets, tmp_path):
    from music_domain.tracker_replay import state_from_events
    from music_domain.dialogue_engine import MusicDialogueEngine

    async def main():
        agent = await agent_with_actions(action_server, tmp_path / "c.db")
        sender = "critic"
        samples = []
        for text in ("play some laid back pop from the 2010s", "yes", "hmm", "too slow", "still too slow"):
            await agent.handle_text(text, sender_id=sender)
            tracker = await agent.tracker_store.retrieve(sender)
            sample = tracker.get_slot("last_sample")
            if sample and (not samples or samples[-1] != sample):
                samples.append(sample)
            if text == "too slow" and not samples:
                return None, None, None
        tracker = await agent.tracker_store.retrieve(sender)
        return samples, [e.as_dict() for e in tracker.applied_events()], tracker

    samples, events, tracker = asyncio.run(main())
    assert samples, "the assistant played a sample before the critique"
    user = [e for e in events if e.get("event") == "user" and "slow" in (e.get("text") or "")]
    assert all(any(x["entity"] == "critique" and x["value"] == "faster" for x in e["parse_data"]["entities"])
               for e in user)
    state = state_from_events(events, "critic", MusicDialogueEngine(assets, use_history=False))
    kind, row = state.directions.relative["pace"]
    assert kind == "faster" and assets.catalog["track_id"].iloc[row] in samples
    energy = assets.arrays.columns["energy"]
    # every sample played after the first critique is more energetic than the one criticised
    first_critique = next(i for i, e in enumerate(events) if e.get("event") == "user" and e.get("text") == "too slow")
    later = [e["value"] for e in events[first_critique:] if e.get("event") == "slot" and e.get("name") == "last_sample"
             and e.get("value")]
    before = [e["value"] for e in events[:first_critique] if e.get("event") == "slot"
              and e.get("name") == "last_sample" and e.get("value")][-1]
    for track_id in later:
        assert energy[assets.row_of(track_id)] > energy[assets.row_of(before)]


@pytest.mark.slow  # a trained model, an agent and the action server
def test_a_named_artist_gets_a_sample_by_them_and_an_unknown_one_a_sample_in_their_vein(action_server, assets,
                                                                                      tmp_path):
    artists = set(assets.catalog["artist_name"])
    known = next(a for a in ("Radiohead", "Bruno Mars", "Coldplay", "Drake", "Taylor Swift") if a in artists)
    # an artist the real catalogue lacks (accents folded: "Olafur Arnalds" is its "Ólafur Arnalds");
    # the public track lists may know its genre family (its vein) or not
    import unicodedata

    def fold(name):
        return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()

    veins = dict(line.split("\t")[:2] for line in
                 (ROOT / "rasa_project" / "data" / "music_ner" / "artist_genres.tsv").read_text(encoding="utf-8").splitlines()
                 if "\t" in line)
    folded = {fold(a) for a in artists}
    unknown = next(a for a in ("Squarepusher", "Sigur Ros", "Floating Points", "Tim Hecker", "Aphex Twin")
                   if fold(a) not in folded)
    vein = veins.get(unknown.lower())

    async def main():
        agent = await agent_with_actions(action_server, tmp_path / "n.db")
        out = {}
        for sender, text in (("known", f"play something like {known}"), ("unknown", f"something like {unknown}")):
            replies = await agent.handle_text(text, sender_id=sender)
            tracker = await agent.tracker_store.retrieve(sender)
            out[sender] = (" ".join(r.get("text") or "" for r in replies), tracker.get_slot("last_sample"))
        return out

    out = asyncio.run(main())
    said, sample = out["known"]
    assert sample, f"a sample right after naming {known}: {said}"
    assert assets.catalog["artist_name"].iloc[assets.row_of(sample)] == known
    said, sample = out["unknown"]
    assert f"I don't have {unknown}" in said, said
    if vein:  # a sample in its vein
        assert "same vein" in said and sample and assets.arrays.columns["genre"][assets.row_of(sample)] == vein, said
    else:  # a question that says it is missing, and no sample passed off as it
        assert "same vein" not in said and not sample, said


def test_the_assistant_says_an_activity_in_words():
    """Found in `make shell`: "Great, starting your station of ambient for relax now"."""
    from actions.actions import _say, describe
    from music_domain.attributes import ACTIVITY_PHRASES, ACTIVITY_VALUES

    assert set(ACTIVITY_PHRASES) == set(ACTIVITY_VALUES)
    assert describe({"genre": "ambient", "activity": "relax"}) == "ambient for relaxing"
    assert describe({"energy": "upbeat", "activity": "workout"}) == "upbeat music for a workout"
    assert _say("activity", "study") == "music for studying"


@pytest.mark.parametrize("activity, energy", [("workout", "upbeat"), ("party", "upbeat"), ("relax", "laid_back"),
                                              ("sleep", "laid_back"), ("study", "laid_back"), ("driving", None)])
def test_an_activity_says_the_energy_so_it_is_not_asked(assets, activity, energy):
    """Found in `make shell`: "something for a rainy sunday" (relax) was answered "Something laid
    back? Or more upbeat?", as was "music for a workout" by the rules every time. An activity whose
    energy range lies on one side of the energy split fills the energy slot; one that spans both
    (driving) still leaves the question; an energy said with it, or a critique, wins."""
    from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
    from music_domain.dialogue_state import DialogueState
    from prompt_policies import RuleBasedPromptPolicy

    engine = MusicDialogueEngine(assets, use_history=False)
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"activity": activity}, 0.0))
    assert state.slots.get("energy") == energy
    assert (RuleBasedPromptPolicy().choose_prompt(state) == "ask_energy") == (energy is None)
    if energy:  # the samples keep to both
        row = engine.pick_sample(state)
        assert assets.arrays.mask({"activity": activity, "energy": energy})[row]
    said = DialogueState()
    engine.apply_user(said, UserMeaning("request_music", {"activity": activity, "energy": "upbeat"}, 0.0))
    assert said.slots["energy"] == "upbeat"
    critiqued = DialogueState()
    engine.apply_user(critiqued, UserMeaning("request_music", {"activity": activity}, 0.0, critiques=["slower"]))
    assert critiqued.slots["energy"] == "laid_back"


def test_a_started_station_is_described_as_the_track_it_was_offered_as():
    """Found in `make shell`: the offer "a station of music like Flowers by Miley Cyrus" was
    confirmed as "starting your station of music like Taylor Swift" (an artist named earlier)."""
    from actions.actions import station_description

    seed = {"track_name": "Flowers", "artist_name": "Miley Cyrus"}
    assert station_description({"artist": "Taylor Swift"}, seed) == "music like Flowers by Miley Cyrus"
    assert station_description({"energy": "upbeat", "genre": "rock"}, seed) == "upbeat rock like Flowers by Miley Cyrus"
    assert station_description({"artist": "Radiohead"}, None) == "music like Radiohead"


def test_start_it_before_anything_was_played_asks_or_starts_what_was_asked_for(assets, monkeypatch):
    """Found in `make shell`: "play the station" as the first words started a station of nothing
    ("Great, starting your station of music now") and ended the conversation."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import actions.actions as acts
    from music_domain.dialogue_engine import MusicDialogueEngine

    monkeypatch.setattr(acts, "engine", lambda use_history=True: MusicDialogueEngine(assets, use_history=False))

    def start(text, entities, before=(), sentiment=0.0):
        latest = {"intent": {"name": "accept", "confidence": 0.9}, "entities": entities, "text": text,
                  "sentiment": {"score": sentiment}}
        events = [*before, {"event": "action", "name": "action_listen"},
                  {"event": "user", "text": text, "parse_data": latest}]
        d = CollectingDispatcher()
        returned = acts.ActionStartStation().run(d, Tracker("s", {}, latest, events, False, None, {}, "action_listen"),
                                                 {})
        return d.messages, {e["name"]: e["value"] for e in returned if e["event"] == "slot"}

    said, slots = start("play the station", [])
    assert [m["response"] for m in said] == ["utter_nothing_to_start"] and "outcome" not in slots
    said, slots = start("play me a rock station", [{"entity": "genre", "value": "rock"}])
    assert slots["outcome"] == "accepted" and len(slots["station"]) > 1
    genres = assets.catalog.set_index("track_id").loc[slots["station"], "genre"]
    assert (genres == "rock").all()
    assert said[0]["response"] == "utter_station_started" and said[0]["description"] == "rock"
    # a request nothing matches: offer to drop a constraint, as a sample would
    said, slots = start("a station of kids music from the 1970s",
                        [{"entity": "genre", "value": "kids"}, {"entity": "era", "value": "1970s"}])
    assert said[-1]["response"] == "utter_nothing_matches" and slots == {"pending_relax": "era"}
    said, slots = start("a station of laid back kids music from the 1970s for a workout",  # no one drop helps
                        [{"entity": "genre", "value": "kids"}, {"entity": "energy", "value": "laid_back"},
                         {"entity": "era", "value": "1970s"}, {"entity": "activity", "value": "workout"}])
    # ... asks what to change instead of offering to drop "the constraints", which a yes could not do
    assert said[-1]["response"] == "utter_nothing_matches_change" and "outcome" not in slots
    assert "pending_relax" not in slots
    # "play more like this" after a sample: a station that starts with it and goes on with more
    sample = assets.catalog["track_id"].iat[9]
    played = [{"event": "action", "name": "action_play_sample"}, {"event": "slot", "name": "last_sample", "value": sample}]
    said, slots = start("play more like this", [], before=played, sentiment=0.1)
    assert slots["outcome"] == "accepted" and slots["station"][0] == sample and len(slots["station"]) > 5
    # a station that cannot keep to what was asked (nothing matches it) is not described by it
    asked = [{"event": "user", "text": "kids music from the 1970s",
              "parse_data": {"intent": {"name": "request_music", "confidence": 0.9},
                             "entities": [{"entity": "genre", "value": "kids"}, {"entity": "era", "value": "1970s"}]}}]
    said, slots = start("keep playing stuff like this", [], before=asked + played, sentiment=0.5)
    first = assets.track(assets.row_of(sample))
    assert slots["station"][0] == sample
    assert said[0]["description"] == f"music like {first['track_name']} by {first['artist_name']}"
    # "start it" after an offer, read as negative by the sentiment model, starts the station offered
    offered = list(assets.catalog["track_id"].iloc[[5, 6, 7, 8]])
    offer = [{"event": "user", "text": "rock", "parse_data": {"intent": {"name": "request_music", "confidence": 0.9},
                                                              "entities": [{"entity": "genre", "value": "rock"}]}},
             {"event": "action", "name": "action_offer_station"}, {"event": "slot", "name": "station", "value": offered}]
    said, slots = start("start it", [], before=offer, sentiment=-0.33)
    assert slots["outcome"] == "accepted" and slots["station"] == offered
    first = assets.track(assets.row_of(offered[0]))
    assert said[0]["description"] == f"rock like {first['track_name']} by {first['artist_name']}"
    # `make shell`: "start it" again once it started said "Great, starting your station" again;
    # a request naming what to play is not answered "already playing"
    started = offer + [{"event": "slot", "name": "outcome", "value": "accepted"},
                       {"event": "slot", "name": "station", "value": offered}]

    def again(text, entities):
        latest = {"intent": {"name": "accept", "confidence": 0.9}, "entities": entities, "text": text}
        slots_now = {"outcome": "accepted", "station": offered}
        d = CollectingDispatcher()
        returned = acts.ActionStartStation().run(
            d, Tracker("s", slots_now, latest, [*started, {"event": "user", "text": text, "parse_data": latest}],
                       False, None, {}, "action_listen"), {})
        return d.messages, {e["name"]: e["value"] for e in returned if e["event"] == "slot"}

    said, slots = again("start it", [])
    assert [m["response"] for m in said] == ["utter_station_playing"] and slots == {}
    # `make shell`: "something newer" once the station played gave a new sample; "ok start a
    # station" then starts one from it, not "already playing"
    newer = assets.catalog["track_id"].iat[11]
    started += [{"event": "action", "name": "action_play_sample"},
                {"event": "slot", "name": "last_sample", "value": newer}]
    said, slots = again("ok start a station", [])
    assert said[0]["response"] == "utter_station_started" and slots["station"][0] == newer, (said, slots)
    said, slots = again("start a jazz station", [{"entity": "genre", "value": "soul and jazz"}])
    assert said[0]["response"] == "utter_station_started" and slots["outcome"] == "accepted"


def test_a_no_to_dropping_a_constraint_keeps_it_and_the_next_offer_names_another(assets, monkeypatch):
    """`make shell`: "I couldn't find anything that is upbeat electronic for studying. Shall I drop
    the activity?" was asked three times over, to "any", "not this one" and "no lyrics!!"."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import actions.actions as acts
    from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
    from music_domain.dialogue_state import DialogueState
    from music_domain.tracker_replay import parse_data

    engine = MusicDialogueEngine(assets, use_history=False)
    monkeypatch.setattr(acts, "engine", lambda use_history=True: engine)
    asked = {"genre": "kids", "era": "1970s"}  # nothing matches; dropping the era helps most
    first = engine.arrays.relaxation(asked)
    second = engine.arrays.relaxation(asked, keep=[first])
    assert first and second and second != first

    # the engine: the offer is pending until answered; a no keeps the constraint
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", asked, 0.1))
    shown = engine.execute("play_sample", state)
    assert shown.relax == first and state.pending_relax == first
    engine.apply_user(state, UserMeaning("deny", {}, -0.3))
    assert state.kept == [first] and state.pending_relax is None
    shown = engine.execute("play_sample", state)
    assert shown.relax == second and state.slots[first] == asked[first]
    # a constraint said anew may be offered again
    engine.apply_user(state, UserMeaning("request_music", {first: "1980s"}, 0.0))
    assert first not in state.kept

    # the action server, on the state replayed from the tracker (the prompt policy lets the slot of
    # the first offer lapse when it answers the no): the next offer names the other constraint
    def run(events, latest):
        d = CollectingDispatcher()
        tracker = Tracker("s", {}, latest, events, False, None, {}, "action_listen")
        returned = acts.ActionPlaySample().run(d, tracker, {})
        return d.messages, [e for e in returned if e["event"] == "slot"]

    request = parse_data(UserMeaning("request_music", asked, 0.1, 0.9))
    no = parse_data(UserMeaning("deny", {}, -0.3, 0.9))
    events = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": "kids music from the 70s",
                                                            "parse_data": request},
              {"event": "action", "name": "action_play_sample"}, {"event": "slot", "name": "pending_relax", "value": first},
              {"event": "action", "name": "action_listen"}, {"event": "user", "text": "no", "parse_data": no},
              {"event": "slot", "name": "pending_relax", "value": None}]  # the policy's lapse
    said, slots = run(events, no)
    assert said[-1]["response"] == "utter_nothing_matches" and said[-1]["attribute"] == second
    assert slots[-1] == {"event": "slot", "timestamp": None, "name": "pending_relax", "value": second}


@pytest.mark.slow  # a trained model
def test_yes_to_dropping_a_constraint_drops_it_even_after_a_station_offer(tmp_path):
    """Found in `make shell`: a station offer that found nothing asks "Shall I drop the
    subgenre?", and "hmm ok" (affirm) started a station of what did not match, described as it
    ("jazz for dinner like Dance Monkey"), because the rule "offer, then yes, starts the station"
    won over the one that drops the constraint. Before, and without a pending drop, yes to an
    offer still starts the station."""
    from rasa.core.agent import load_agent
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    agent = asyncio.run(load_agent(str(trained_model())))

    def next_action(pending):
        events = [ActionExecuted("action_listen"),
                  UserUttered("jazz for dinner", {"name": "request_music", "confidence": 0.9},
                              [{"entity": "genre", "value": "soul and jazz"}, {"entity": "activity", "value": "dinner"}]),
                  SlotSet("genre", "soul and jazz"), SlotSet("activity", "dinner"),
                  ActionExecuted("action_offer_station")]
        if pending:
            events.append(SlotSet("pending_relax", pending))
        events += [ActionExecuted("action_listen"), UserUttered("hmm ok", {"name": "affirm", "confidence": 0.99})]
        tracker = DialogueStateTracker.from_events("s", events, slots=agent.domain.slots)
        prediction = agent.processor._predict_next_with_tracker(tracker)
        return agent.domain.action_names_or_texts[prediction.max_confidence_index]

    assert next_action("activity") == "action_relax_constraint"
    assert next_action(None) == "action_start_station"


def test_when_every_matching_track_was_played_a_yes_drops_the_constraint_offered(assets, monkeypatch):
    """`make shell`: after every track that matched had been played, "Shall I drop the era?" was
    asked but no offer was pending, so "yes" could not drop it. Now it is a question like any
    other ("That's everything I have ..."): the offer is pending, and a yes plays a sample."""
    import actions.actions as acts
    from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
    from music_domain.dialogue_state import DialogueState
    from rasa_sdk.executor import CollectingDispatcher

    eng = MusicDialogueEngine(assets, use_history=False)
    monkeypatch.setattr(acts, "engine", lambda use_history=True: eng)
    arrays = assets.arrays
    # a genre and a decade few tracks share
    pairs = [(g, e) for g in sorted(set(arrays.columns["genre"])) for e in ("1970s", "1980s", "1990s")
             if 2 <= arrays.mask({"genre": g, "era": e}).sum() <= 4]
    genre, era = pairs[0]
    state = DialogueState()
    eng.apply_user(state, UserMeaning("request_music", {"genre": genre, "era": era}))
    n = int(arrays.mask(state.slots).sum())
    rows = []
    for _ in range(n):
        shown = eng.execute("play_sample", state)
        rows.append(shown.row)
        eng.apply_user(state, UserMeaning("deny", {}, -0.4))
    assert None not in rows and len(set(rows)) == n
    shown = eng.execute("play_sample", state)
    assert shown.exhausted and shown.relax in ("genre", "era") and shown.asks_to_relax
    assert state.pending_relax == shown.relax
    d = CollectingDispatcher()
    events = acts.render(d, state, shown)
    assert d.messages[-1]["response"] == "utter_all_played" and d.messages[-1]["attribute"] == shown.relax
    assert [(e["name"], e["value"]) for e in events if e["event"] == "slot"] == [("pending_relax", shown.relax)]
    eng.apply_user(state, UserMeaning("affirm", {}, 0.3))
    after = eng.relax(state, shown.relax)
    assert after.row is not None and after.row not in rows and state.slots[shown.relax] is None


@pytest.mark.slow  # a trained model, an agent and the action server
def test_who_is_this_during_a_sample_names_it_and_starts_nothing(action_server, assets, tmp_path):
    """`make shell`: "what song is this?" during a sample was read as a yes (its words are
    positive) and started a station. It names the track and asks again; nothing changes, and the
    yes that follows is still a yes to that sample. Before anything played, it says so."""
    artist = str(assets.catalog["artist_name"].value_counts().index[0])

    async def main():
        agent = await agent_with_actions(action_server, tmp_path / "w.db")
        said = {}
        for text in ("who is this?", f"play something by {artist}", "what song is this?", "who sings this"):
            replies = await agent.handle_text(text, sender_id="asker")
            tracker = await agent.tracker_store.retrieve("asker")
            said[text] = (" ".join(r.get("text") or "" for r in replies), tracker.get_slot("last_sample"),
                          tracker.get_slot("outcome"), tracker.latest_message.intent.get("name"))
        return said

    said = asyncio.run(main())
    text, sample, outcome, intent = said["who is this?"]
    assert intent == "ask_track" and "Nothing is playing yet" in text and not sample
    _, sample, _, _ = said[f"play something by {artist}"]
    assert sample, "a named artist gets a sample at once"
    title = assets.catalog.set_index("track_id").loc[sample, "track_name"]
    for question in ("what song is this?", "who sings this"):
        text, now, outcome, intent = said[question]
        assert intent == "ask_track" and outcome is None and now == sample
        assert text.startswith("That's ") and f"by {artist}" in text and "Do you like it?" in text, text
        assert title.split(" - ")[0].split(" (")[0] in text
