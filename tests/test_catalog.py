"""The catalogue loader and the generated large catalogue."""
import numpy as np
import pandas as pd
import pytest

from music_domain.catalog import CatalogError, DEFAULT_CATALOG, load_catalog, validate_catalog
from music_domain.catalog_generator import generate_catalog


@pytest.fixture(scope="module")
def real():
    return load_catalog()


def test_shipped_catalogue_loads_with_derived_columns(real):
    assert len(real) == 3866
    assert set(real["energy_level"]) == {"laid_back", "upbeat"}
    assert real["era"].isin(["2000s", "2010s", "2020s"]).all()
    # catalogue genres become subgenres of a genre family
    alt = real[real["subgenre"] == "alt-rock"]
    assert len(alt) > 0 and (alt["genre"] == "rock").all()


def _raw():
    return pd.read_csv(DEFAULT_CATALOG).head(20)


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
    bad.write_bytes(DEFAULT_CATALOG.read_bytes()[:500] + "\nx,Caf\xe9,y".encode("latin-1"))
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
    gen = validate_catalog(generate_catalog(real, 20000, seed=1))
    assert len(gen) == 20000
    assert gen["track_id"].str.startswith("gen-").all() and gen["track_name"].str.startswith("Generated").all()
    share_real = real["genre"].value_counts(normalize=True)
    share_gen = gen["genre"].value_counts(normalize=True).reindex(share_real.index).fillna(0)
    assert np.abs(share_real - share_gen).max() < 0.02
    for col in ("energy", "valence", "danceability", "tempo"):
        assert abs(real[col].mean() - gen[col].mean()) < 0.05 * max(1.0, abs(real[col].mean()))
    # within-genre structure survives: metal is louder-energy than classical
    assert gen[gen.genre == "metal"].energy.mean() > gen[gen.genre == "classical"].energy.mean() + 0.3
