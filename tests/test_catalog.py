"""The catalogue loader and the generated large catalogue."""
import numpy as np
import pandas as pd
import pytest

from music_domain.catalog import CatalogError, SAMPLE_CATALOG, best_known_track, load_catalog, validate_catalog
from music_domain.catalog_generator import generate_catalog


@pytest.fixture(scope="module")
def real():
    return load_catalog()


def test_shipped_catalogue_is_real_and_loads_with_derived_columns(real):
    assert real["track_id"].is_unique and len(real) >= 30_000
    assert not real["track_id"].str.startswith("gen-").any()
    assert set(real["energy_level"]) == {"laid_back", "upbeat"}
    known = real["year"].notna()
    assert known.sum() > 20_000 and (~known).sum() > 0
    assert (real.loc[~known, "era"] == "unknown").all()
    assert (real.loc[known, "era"] == (real.loc[known, "year"] // 10 * 10).astype(int).astype(str) + "s").all()
    # catalogue genres become subgenres of a genre family
    alt = real[real["subgenre"] == "alt-rock"]
    assert len(alt) > 0 and (alt["genre"] == "rock").all()
    # every music track has a real family but comedy songs; non-music is all filed under "other"
    assert set(real.loc[(real["content"] == "music") & (real["genre"] == "other"), "subgenre"]) <= {"comedy"}
    assert (real.loc[real["content"] != "music", "genre"] == "other").all()


def test_previews_come_only_from_the_catalogue_file(real, tmp_path):
    with_preview = real[real["preview_url"].notna()]
    assert len(with_preview) >= 1 and with_preview["attribution"].notna().all()
    assert not real["preview_url"].dropna().str.contains("p.scdn.co").any()
    raw = pd.read_csv(SAMPLE_CATALOG).head(5)
    assert validate_catalog(raw)["preview_url"].isna().all(), "no column, no preview: nothing is made up"
    raw["preview_url"] = ["https://cdn.example.org/a.mp3", "", None, "audio/b.mp3", "https://x/c.mp3"]
    got = validate_catalog(raw)["preview_url"].tolist()
    assert got == ["https://cdn.example.org/a.mp3", None, None, "audio/b.mp3", "https://x/c.mp3"]


def test_unknown_year_never_satisfies_an_era():
    from music_domain.search import CatalogArrays

    raw = pd.read_csv(SAMPLE_CATALOG).head(6)
    raw["year"] = raw["year"].astype(object)
    raw.loc[[0, 1], "year"] = [None, ""]
    raw.loc[2:, "year"] = 1994
    cat = validate_catalog(raw)
    assert list(cat["era"][:2]) == ["unknown", "unknown"]
    arrays = CatalogArrays(cat)
    for era in ("1990s", "2000s", "unknown", "1900s"):
        assert not arrays.mask({"era": era})[:2].any()
    assert arrays.mask({"era": "1990s"})[2:].all()
    assert arrays.unknown_year({"era": "2010s"}) == 2 and arrays.unknown_year({}) == 0


def test_non_music_is_offered_only_when_asked_for_by_name():
    from music_domain.search import CatalogArrays

    raw = pd.read_csv(SAMPLE_CATALOG).head(6)
    raw["content"] = ["music", "sound", "spoken", "music", "sound", "music"]
    raw["subgenre"] = ["pop", "white-noise", "comedy", "pop", "white-noise", "pop"]
    raw["artist_name"] = ["A", "Rain Sounds", "Comic", "A", "Rain Sounds", "B"]
    raw["energy"] = 0.2
    arrays = CatalogArrays(validate_catalog(raw))
    assert arrays.mask({}).tolist() == [True, False, False, True, False, True]
    assert arrays.mask({"energy": "laid_back"}).tolist() == [True, False, False, True, False, True]
    assert arrays.mask({"subgenre": "white-noise"}).tolist() == [False, True, False, False, True, False]
    assert arrays.mask({"artist": "Comic"})[2]
    bad = raw.copy()
    bad.loc[0, "content"] = "podcast"
    with pytest.raises(CatalogError, match="'content'"):
        validate_catalog(bad)


def _raw():
    return pd.read_csv(SAMPLE_CATALOG).head(20)


def test_missing_column_is_named():
    with pytest.raises(CatalogError, match="missing required column.*energy"):
        validate_catalog(_raw().drop(columns=["energy"]))


def test_out_of_range_value_names_column_and_row():
    df = _raw()
    df.loc[4, "energy"] = 7.5
    with pytest.raises(CatalogError, match=r"'energy'.*row\(s\) 6"):
        validate_catalog(df)


def test_non_numeric_value_names_column_and_row():
    df = _raw().astype({"tempo": object})
    df.loc[0, "tempo"] = "fast"
    with pytest.raises(CatalogError, match=r"'tempo'.*row\(s\) 2"):
        validate_catalog(df)


def test_duplicate_and_blank_ids_are_rejected():
    df = _raw()
    df.loc[3, "track_id"] = df.loc[2, "track_id"]
    with pytest.raises(CatalogError, match="duplicate track_id.*5"):
        validate_catalog(df)
    df = _raw()
    df.loc[1, "artist_name"] = "  "
    with pytest.raises(CatalogError, match="'artist_name' is empty.*3"):
        validate_catalog(df)


def test_non_utf8_and_missing_files(tmp_path):
    bad = tmp_path / "latin1.csv"
    bad.write_bytes(SAMPLE_CATALOG.read_bytes()[:500] + "\nx,Caf\xe9,y".encode("latin-1"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(bad)
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.csv")


def test_user_catalogue_with_aliases_and_subgenre(tmp_path):
    df = _raw().rename(columns={"artist_name": "artist", "year": "release_year"})
    df["subgenre"] = "shoegaze"
    path = tmp_path / "mine.parquet"
    df.to_parquet(path)
    cat = load_catalog(path)
    assert (cat["subgenre"] == "shoegaze").all() and "artist_name" in cat and "year" in cat


def test_generated_catalogue_is_labelled_and_fitted(real):
    real = real[real["content"] == "music"]
    gen = validate_catalog(generate_catalog(real, 20000, seed=1))
    assert gen["year"].notna().all()
    assert len(gen) == 20000
    assert gen["track_id"].str.startswith("gen-").all() and gen["track_name"].str.startswith("Generated").all()
    share_real = real["genre"].value_counts(normalize=True)
    share_gen = gen["genre"].value_counts(normalize=True).reindex(share_real.index).fillna(0)
    assert np.abs(share_real - share_gen).max() < 0.02
    for col in ("energy", "valence", "danceability", "tempo"):
        assert abs(real[col].mean() - gen[col].mean()) < 0.05 * max(1.0, abs(real[col].mean()))
    # within-genre structure survives: metal is louder-energy than classical
    assert gen[gen.genre == "metal"].energy.mean() > gen[gen.genre == "classical"].energy.mean() + 0.3


def test_the_assistant_says_when_unknown_years_empty_an_era():
    from types import SimpleNamespace

    from rasa_sdk.executor import CollectingDispatcher

    from actions.actions import render
    from music_domain.dialogue_engine import Shown

    d = CollectingDispatcher()
    state = SimpleNamespace(slots={"genre": "metal", "era": "1990s", "energy": "upbeat"})
    render(d, state, Shown("play_sample", relax="era", unknown_year=5325))
    texts = [m.get("text") or "" for m in d.messages]
    assert any("5,325 tracks fit everything else" in t and "from the 1990s" in t for t in texts)
    assert d.messages[-1]["response"] == "utter_nothing_matches"  # the question comes last
    d = CollectingDispatcher()
    render(d, SimpleNamespace(slots={"genre": "metal", "energy": "upbeat"}), Shown("play_sample", relax="energy"))
    assert [m["response"] for m in d.messages] == ["utter_nothing_matches"]


def test_an_artists_best_known_track_is_their_most_popular_music_track():
    cat = pd.DataFrame({"artist_name": ["A", "A", "A", "B"], "popularity": [10, 90, 50, 99],
                        "content": ["music", "spoken", "music", "music"]})
    assert best_known_track(cat, "A") == 2  # the spoken track is more popular, but not music
    assert best_known_track(cat, "B") == 3
    assert best_known_track(cat, "Nobody") is None
    assert best_known_track(cat.drop(columns="content"), "A") == 1
    assert best_known_track(cat[cat["artist_name"] == "A"].iloc[[1]], "A") is None  # only spoken word
