"""A named artist or song is answered with a sample by / near it; an artist the catalogue lacks
is said honestly, with a sample in its vein when its genre family is known, or a question that
says so when it is not (no trained Rasa model needed: the rule-based policy, the engine, the
tracker replay and the action server's rendering)."""
import numpy as np
import pytest

from music_domain.dialogue_engine import MusicDialogueEngine, UserMeaning
from music_domain.dialogue_state import DialogueState
from music_domain.mentions import infer_vein, unknown_reply
from music_domain.tracker_replay import meaning_from_parse, parse_data
from prompt_policies.rule_based import RuleBasedPromptPolicy


@pytest.fixture(scope="module")
def engine(assets):
    return MusicDialogueEngine(assets, use_history=False)


def _artist_with_tracks(assets, n=3):
    counts = assets.catalog["artist_name"].value_counts()
    return str(counts[counts >= n].index[len(counts[counts >= n]) // 2])


def test_a_named_artist_gets_a_sample_by_that_artist(assets, engine):
    artist = _artist_with_tracks(assets)
    policy = RuleBasedPromptPolicy()
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"artist": artist}))
    assert policy.choose_prompt(state) == "play_sample"  # no questions first
    shown = engine.execute("play_sample", state)
    assert assets.catalog["artist_name"].iloc[shown.row] == artist
    # a reply that names nothing goes back to the script (here: a rejection, then a question)
    engine.apply_user(state, UserMeaning("deny", {}, -0.5))
    assert state.named == [] and policy.choose_prompt(state) != "play_sample"


def test_a_named_song_gets_a_sample_near_it(assets, engine):
    track_id = str(assets.catalog["track_id"].iloc[7])
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {}, seeds=[track_id]))
    assert RuleBasedPromptPolicy().choose_prompt(state) == "play_sample"
    row = engine.execute("play_sample", state).row
    v = assets.index.vectors
    assert float(v[row] @ v[7]) > float(sorted(v @ v[7])[int(0.9 * len(v))])


def test_an_unknown_artist_with_a_known_vein_gets_a_sample_in_that_vein(assets, engine):
    known = {str(a).lower() for a in assets.catalog["artist_name"]}
    from music_domain.mentions import artist_veins

    name, family = next((k, f) for k, f in artist_veins().items()
                        if k not in known and f in set(assets.arrays.columns["genre"]) and len(k) > 5)
    assert infer_vein(name.title()) == family
    parse = {"intent": {"name": "request_music", "confidence": 0.9},
             "entities": [{"entity": "unknown_mention", "value": name.title(), "mention_type": "artist",
                           "vein": family}]}
    meaning = meaning_from_parse(parse)
    assert meaning_from_parse(parse_data(meaning)).unknown == meaning.unknown
    state = DialogueState()
    engine.apply_user(state, meaning)
    assert state.slots["genre"] == family
    assert RuleBasedPromptPolicy().choose_prompt(state) == "play_sample"
    row = engine.execute("play_sample", state).row
    assert assets.arrays.columns["genre"][row] == family
    note = unknown_reply(parse["entities"], playing=True)
    assert note.startswith(f"I don't have {name.title()}") and "same vein" in note


def test_a_stated_genre_wins_over_an_unknown_artists_vein(engine):
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"},
                                         unknown=[{"name": "Aphex Twin", "type": "artist", "vein": "ambient"}]))
    assert state.slots["genre"] == "rock"


def test_an_unknown_name_without_a_vein_gets_a_question_that_says_so(engine):
    assert infer_vein("Zqxv Blorptone") is None
    assert infer_vein("") is None and infer_vein("x" * 500) is None
    state = DialogueState()
    ents = [{"entity": "unknown_mention", "value": "Zqxv Blorptone", "mention_type": "artist"}]
    engine.apply_user(state, meaning_from_parse({"intent": {"name": "request_music", "confidence": 0.9},
                                                 "entities": ents}))
    assert state.named == ["unknown:Zqxv Blorptone"] and not state.slots["genre"]
    assert RuleBasedPromptPolicy().choose_prompt(state) == "suggest_genres"
    note = unknown_reply(ents, playing=False)
    assert note.startswith("I don't have Zqxv Blorptone") and "same vein" not in note


def test_the_action_says_the_unknown_name_before_its_question(monkeypatch, assets):
    """The action server's genre suggestion (the question the rule-based policy asks after an
    unknown name) says it does not have it, then asks; a sample says it is in the same vein."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    import actions.actions as acts

    monkeypatch.setattr(acts, "engine", lambda use_history=True: MusicDialogueEngine(assets, use_history=False))

    def run(action, entities):
        latest = {"intent": {"name": "request_music", "confidence": 0.9}, "entities": entities,
                  "text": "something like it"}
        events = [{"event": "action", "name": "action_listen"},
                  {"event": "user", "text": "something like it", "parse_data": latest}]
        tracker = Tracker("s", {}, latest, events, False, None, {}, "action_listen")
        d = CollectingDispatcher()
        action().run(d, tracker, {})
        return d.messages

    said = run(acts.ActionSuggestGenres, [{"entity": "unknown_mention", "value": "Zqxv Blorptone",
                                           "mention_type": "artist"}])
    assert said[0]["text"].startswith("I don't have Zqxv Blorptone") and "same vein" not in said[0]["text"]
    assert said[1]["response"] == "utter_suggest_genres"
    said = run(acts.ActionPlaySample, [{"entity": "unknown_mention", "value": "Aphex Twin",
                                        "mention_type": "artist", "vein": "ambient"}])
    assert "same vein" in said[0]["text"] and said[1]["response"] == "utter_first_sample"


def test_the_first_sample_is_never_worded_as_a_retry(monkeypatch, assets):
    """`make shell`: "i don't know", "whatever" made the listener frustrated, and the first sample
    of the conversation was "Let's try something a bit different. Here's ... Better?"."""
    import yaml
    from pathlib import Path

    from rasa_sdk.executor import CollectingDispatcher

    import actions.actions as acts
    from music_domain.dialogue_engine import Shown

    eng = MusicDialogueEngine(assets, use_history=False)
    monkeypatch.setattr(acts, "engine", lambda use_history=True: eng)
    state = DialogueState()
    responses = []
    for _ in range(2):
        shown = eng.execute("play_sample", state)
        d = CollectingDispatcher()
        events = acts.render(d, state, shown)
        responses.append(d.messages[0]["response"])
        assert events[-1]["name"] == "last_sample"
    assert responses == ["utter_first_sample", "utter_sample"]
    domain = yaml.safe_load((Path(__file__).resolve().parents[1] / "domain.yml").read_text())
    for variant in domain["responses"]["utter_first_sample"]:
        text = variant["text"].lower()
        assert "different" not in text and "better?" not in text and "another" not in text, text
    assert any("better?" in v["text"].lower() for v in domain["responses"]["utter_sample"])


@pytest.mark.parametrize("said", ["", "x" * 200, "🎸🎸", "'; DROP TABLE tracks; --", "<script>alert(1)</script>",
                                  "Ñandú Fantasma", "Radiohead\x00\x1b[2J", "\u202e", "Aphex Twinn Zz"])
def test_vein_of_bad_or_unknown_names_is_none_never_a_guess(said):
    assert infer_vein(said) is None


@pytest.mark.parametrize("said", ["Genesis", "Boston", "Rush", "Aphex Twin", "aphex twins", "The Beatles"])
def test_vein_is_an_exact_known_artists_genre_family(said):
    from music_domain.attributes import GENRE_FAMILIES

    assert infer_vein(said) in GENRE_FAMILIES and infer_vein(said) != "other"


def test_a_name_heard_outside_a_request_does_not_steer_the_dialogue(assets, engine):
    state = DialogueState()
    engine.apply_user(state, UserMeaning("dont_know", {}, seeds=[str(assets.catalog["track_id"].iloc[3])],
                                         unknown=[{"name": "Aphex Twin", "type": "artist", "vein": "ambient"}]))
    assert state.named == [] and not state.slots["genre"]
    assert RuleBasedPromptPolicy().choose_prompt(state) == "ask_open"
    # "i like it" after a sample is a yes, not a request for songs like "I Like It"
    row = engine.pick_sample(state)
    state.record_prompt("play_sample")
    engine.apply_user(state, UserMeaning("affirm", {}, 0.5, seeds=[str(assets.catalog["track_id"].iloc[3])]))
    assert state.directions.seeds == [] and state.liked_sample == row


def test_an_artist_named_later_outweighs_earlier_constraints_that_exclude_them(assets, engine):
    """'chill pop', then 'Metallica': the listener changed their mind, so the earlier genre gives
    way and a track by the artist plays; what the same message says is kept."""
    arrays, cat = assets.arrays, assets.catalog
    artist = _artist_with_tracks(assets, n=5)
    by_artist = (cat["artist_name"] == artist).to_numpy()
    families = [g for g in sorted(set(arrays.columns["genre"])) if g]
    other = next(g for g in families if not (arrays.mask({"genre": g}) & by_artist).any())
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": other}))
    engine.apply_user(state, UserMeaning("request_music", {"artist": artist}))
    assert state.slots["genre"] is None and state.slots["artist"] == artist
    assert cat["artist_name"].iloc[engine.execute("play_sample", state).row] == artist

    # said together, the constraint stays (and the artist's tracks that honour it are played)
    levels = [e for e in sorted(set(arrays.columns["energy"])) if e and (arrays.mask({"energy": e}) & by_artist).any()]
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"artist": artist, "energy": levels[0]}))
    assert state.slots["energy"] == levels[0]
    row = engine.execute("play_sample", state).row
    assert cat["artist_name"].iloc[row] == artist and arrays.mask({"energy": levels[0]})[row]


def test_an_artist_the_catalogue_lacks_leaves_the_constraints_alone(engine):
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock", "energy": "upbeat"}))
    assert engine.yield_to_named_artist(state, {"artist": "No Such Band 123"}) == []
    assert state.slots["genre"] == "rock" and state.slots["energy"] == "upbeat"


def test_the_second_one_after_two_samples_picks_that_track(assets, engine):
    """"the second one" after two samples is the track the listener likes (it was a genre question's
    answer only after a genre suggestion): the rule-based policy offers its station next; "the
    first one" picks the earlier sample; a third is not there to pick."""
    artist = _artist_with_tracks(assets)
    policy = RuleBasedPromptPolicy()
    for choice in (1, 0):
        state = DialogueState()
        engine.apply_user(state, UserMeaning("request_music", {"artist": artist}))
        engine.execute("play_sample", state)
        engine.apply_user(state, UserMeaning("deny", {}, -0.4))
        engine.execute("play_sample", state)
        first, second = state.samples
        engine.apply_user(state, UserMeaning("choose_option", {}, 0.0, choice=choice))
        assert state.liked_sample == (first, second)[choice]
        assert policy.choose_prompt(state) == "offer_station"
        assert engine.execute("offer_station", state).rows[0] == (first, second)[choice]
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"artist": artist}))
    engine.execute("play_sample", state)
    engine.apply_user(state, UserMeaning("choose_option", {}, 0.0, choice=1))
    assert state.liked_sample is None


def test_the_second_one_after_a_station_offer_is_the_stations_first_track(assets, engine):
    """After one sample and a station offer, the tracks heard are the sample and the station's
    first track: "the second one" takes the station's, "the first one" the sample (and the
    offered station, which starts elsewhere, goes)."""
    artist = _artist_with_tracks(assets)
    for choice in (1, 0):
        state = DialogueState()
        engine.apply_user(state, UserMeaning("request_music", {"artist": artist}))
        engine.execute("play_sample", state)
        engine.apply_user(state, UserMeaning("deny", {}, -0.3))  # the sample is turned down
        offered = engine.execute("offer_station", state).rows
        assert offered and offered[0] != state.samples[0]
        engine.apply_user(state, UserMeaning("choose_option", {}, 0.0, choice=choice))
        if choice == 1:
            assert state.liked_sample == offered[0] and state.station == offered
        else:
            assert state.liked_sample == state.samples[0] and state.station == []


def test_a_song_asked_for_by_name_is_played_and_one_named_as_a_likeness_is_not(assets, engine):
    """`make shell`: "bohemian rhapsody" played Kodaline's "All I Want" (a more popular neighbour
    in the track vectors), and "something like bohemian rhapsody" played the song itself. A song
    asked for by name is the next sample; one named as a likeness is a seed the listener knows,
    never a sample. Both come from the NLU's work entity (``like`` marks the likeness)."""
    cat = assets.catalog
    pop = cat["popularity"].to_numpy()
    for like in (False, True):
        # asked for: the least popular track, never the top of a ranking on its own; a likeness:
        # the most popular one, which a ranking seeded by it puts first unless it is left out
        row = int(pop.argmax() if like else pop.argmin())
        track_id = str(cat["track_id"].iloc[row])
        work = {"entity": "work", "value": str(cat["track_name"].iloc[row]), "track_id": track_id}
        parse = {"intent": {"name": "request_music", "confidence": 0.9},
                 "entities": [{**work, "like": True} if like else work]}
        meaning = meaning_from_parse(parse)
        assert meaning.seeds == [track_id] and meaning.play == ([] if like else [track_id])
        state = DialogueState()
        engine.apply_user(state, meaning)
        assert RuleBasedPromptPolicy().choose_prompt(state) == "play_sample"
        played = [engine.execute("play_sample", state).row]
        engine.apply_user(state, UserMeaning("deny", {}, -0.2))
        played.append(engine.execute("play_sample", state).row)
        if like:
            assert row not in played and row in state.directions.seeds
        else:
            assert played[0] == row and played[1] != row


def test_the_first_one_answers_the_energy_question_in_the_order_it_was_asked():
    """`make shell`: "Are you after something laid back, or more upbeat?" "the first one" was
    understood as nothing, and "Anything in mind?" came next."""
    import yaml
    from pathlib import Path

    from music_domain.attributes import ENERGY_VALUES

    domain = yaml.safe_load((Path(__file__).resolve().parents[1] / "domain.yml").read_text())
    for variant in domain["responses"]["utter_ask_energy"]:
        text = variant["text"].lower()
        assert text.index("laid back") < text.index("upbeat"), text  # the order the choice relies on
    assert ENERGY_VALUES == ("laid_back", "upbeat")


def test_an_option_picks_the_energy_after_the_energy_question(assets, engine):
    for choice, energy in ((0, "laid_back"), (1, "upbeat")):
        state = DialogueState()
        engine.execute("ask_energy", state)
        new = engine.apply_user(state, UserMeaning("choose_option", {}, 0.0, choice=choice))
        assert new == {"energy": energy} and state.slots["energy"] == energy
    state = DialogueState()
    engine.execute("ask_open", state)  # an option after another question picks nothing
    assert engine.apply_user(state, UserMeaning("choose_option", {}, 0.0, choice=0)) == {}


def test_a_yes_to_two_genres_takes_the_first(assets, engine):
    """`make shell`: "Pop? Or Soul and jazz?" "sure" was ignored, and "Latin? Or Rock?" came next. A
    yes takes the first genre offered (the likelier one for the listener); a genre said with it
    wins, and a yes to another question picks no genre."""
    state = DialogueState()
    engine.execute("suggest_genres", state)
    first, second = state.offered_genres[-2:]
    assert engine.apply_user(state, UserMeaning("affirm", {}, 0.4)) == {"genre": first}
    assert state.slots["genre"] == first
    state = DialogueState()
    engine.execute("suggest_genres", state)
    said = engine.apply_user(state, UserMeaning("affirm", {"genre": state.offered_genres[-1]}, 0.4))
    assert said == {"genre": state.offered_genres[-1]}
    state = DialogueState()
    engine.execute("ask_energy", state)
    assert "genre" not in engine.apply_user(state, UserMeaning("affirm", {}, 0.4))


def test_a_critique_of_a_song_asked_for_by_name_keeps_it_as_the_reference(assets, engine):
    """`make shell`: "put on hotel california please" ... "something newer" played reggaeton (KAROL G):
    the named song was counted as a rejected sample, so retrieval moved away from its sound. It is
    the reference of the critique, and so is a sample the listener did not name; a plain no rejects."""
    cat = assets.catalog
    v = assets.index.vectors
    row = int(cat.index[cat["track_name"] == "Hotel California - 2013 Remaster"][0])
    track_id = str(cat["track_id"].iloc[row])
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {}, 0.1, seeds=[track_id], play=[track_id]))
    assert engine.execute("play_sample", state).row == row
    engine.apply_user(state, UserMeaning("request_music", {}, 0.1, critiques=["newer"]))
    assert row not in state.rejected and state.directions.relative["year"] == ("newer", row)
    nxt = engine.execute("play_sample", state).row
    assert float(v[nxt] @ v[row]) > float(np.quantile(v @ v[row], 0.9))  # near the named song
    # a sample nobody named, critiqued the same way, is the reference too; one turned down
    # without a critique is rejected
    other = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("request_music", {}, -0.4, critiques=["newer"]))
    assert other not in state.rejected and state.directions.relative["year"] == ("newer", other)
    third = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("deny", {}, -0.6))
    assert third in state.rejected


def test_a_relative_critique_is_neither_a_like_nor_a_rejection(assets, engine):
    """`make shell`: "more upbeat" after a Radiohead sample was read as liked (its words are
    positive), and the station offered next started with the very track just critiqued. A
    relative critique asks for a change: whatever its tone, the sample is the reference, not a like
    (no station of it) and not a sound to move away from (not rejected)."""
    from music_domain.reactions import LIKED_SENTIMENT

    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("request_music", {}, LIKED_SENTIMENT + 0.3, critiques=["faster"]))
    assert state.liked_sample is None and first not in state.rejected
    assert state.directions.relative["pace"] == ("faster", first)
    station = engine.execute("offer_station", state).rows
    assert station and station[0] != first and first not in station
    energy = engine.arrays.columns["energy"]
    assert energy[station[0]] > energy[first]  # the direction holds for the station too
    # in a flat or negative tone too ("no not that, too intense" after My Sharona played Sam Smith:
    # the rejected sample's sound was left altogether); a plain no still rejects
    for tone in (0.1, -0.5):
        state = DialogueState()
        engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
        first = engine.execute("play_sample", state).row
        engine.apply_user(state, UserMeaning("request_music", {}, tone, critiques=["faster"]))
        assert first not in state.rejected and state.liked_sample is None
        nxt = engine.execute("play_sample", state).row
        assert nxt != first and energy[nxt] > energy[first]
        engine.apply_user(state, UserMeaning("deny", {}, -0.5))
        assert nxt in state.rejected
    # a liked tone without a critique is still a like
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("affirm", {}, LIKED_SENTIMENT + 0.3))
    assert state.liked_sample == first


def test_a_critique_of_an_offered_station_keeps_its_first_track_as_the_reference(assets, engine):
    """A cheerful "something more upbeat" to a station offer is no acceptance, and its first track
    (often the sample the listener liked) is the direction's reference, not a rejected sound; it is
    played again neither as a sample nor in the next station. A plain no declines the station as
    before (its first tracks are rejected)."""
    from music_domain.reactions import LIKED_SENTIMENT

    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("affirm", {}, LIKED_SENTIMENT + 0.2))
    station = engine.execute("offer_station", state).rows
    assert station[0] == first
    engine.apply_user(state, UserMeaning("request_music", {}, LIKED_SENTIMENT + 0.3, critiques=["faster"]))
    assert not state.rejected and first in state.references and state.liked_sample is None
    nxt = engine.execute("play_sample", state).row
    energy = engine.arrays.columns["energy"]
    assert nxt != first and energy[nxt] > energy[first]
    engine.apply_user(state, UserMeaning("affirm", {}, LIKED_SENTIMENT + 0.2))
    assert first not in engine.execute("offer_station", state).rows
    # a plain no to the station declines it
    engine.apply_user(state, UserMeaning("deny", {}, -0.5))
    assert nxt in state.rejected


def test_a_cheerful_critique_with_another_change_is_no_like_and_more_like_that_is_no_rejection(assets, engine):
    """"something newer, not that genre!" is no like (it only counted as one when every critique
    was relative); "more like that" said flatly made the sample a seed and a rejected sound at once."""
    from music_domain.reactions import LIKED_SENTIMENT

    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("request_music", {}, LIKED_SENTIMENT + 0.3,
                                         critiques=["newer", "exclude_current_genre"]))
    assert state.liked_sample is None
    state = DialogueState()
    engine.apply_user(state, UserMeaning("request_music", {"genre": "rock"}, 0.1))
    first = engine.execute("play_sample", state).row
    engine.apply_user(state, UserMeaning("request_music", {}, 0.0, critiques=["more_like"]))
    assert first not in state.rejected and first in state.directions.seeds
