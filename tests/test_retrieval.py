"""Track index and history-aware retrieval."""
import numpy as np
import pytest

from embeddings.track_index import IndexError_, TrackIndex
from music_domain.search import CatalogArrays


def test_constrained_search_never_breaks_a_constraint(assets):
    r = assets.retriever
    for slots in ({"genre": "rock", "energy": "upbeat"}, {"genre": "pop", "era": "2010s", "energy": "laid_back"},
                  {"activity": "workout"}, {"subgenre": "alt-rock", "era": "2000s"}):
        mask = assets.arrays.mask(slots)
        for user in (None, "user-00001"):
            ranked = r.rank(slots, user_id=user, k=10)
            assert len(ranked.rows) == min(10, mask.sum())
            assert mask[ranked.rows].all()


def test_new_listener_falls_back_to_popularity(assets):
    ranked = assets.retriever.rank({"genre": "rock"}, user_id="someone-unknown", k=5)
    pop = assets.arrays.columns["popularity"][assets.arrays.mask({"genre": "rock"})]
    assert ranked.features["has_profile"] == 0.0
    assert assets.arrays.columns["popularity"][ranked.rows].min() >= np.sort(pop)[-8]


def test_history_changes_the_ranking_towards_taste(assets):
    user = "user-00001"
    taste = assets.tastes[user]
    with_h = assets.retriever.rank({}, user_id=user, k=10)
    without = assets.retriever.rank({}, user_id=None, k=10)
    subs = assets.arrays.columns["subgenre"]
    assert np.isin(subs[with_h.rows], taste.subgenres).sum() > np.isin(subs[without.rows], taste.subgenres).sum()


def test_rejected_sample_pushes_next_one_away(assets):
    r = assets.retriever
    first = r.rank({"genre": "rock"}, k=1).rows[0]
    second = r.rank({"genre": "rock"}, exclude=[first], rejected=[first], k=1).rows[0]
    assert second != first


def test_constraints_that_match_nothing(assets):
    slots = {"genre": "rock", "era": "1990s"}
    ranked = assets.retriever.rank(slots, k=5)
    assert ranked.empty and ranked.n_matching == 0
    assert assets.arrays.relaxation(slots) == "era"


def test_missing_or_corrupt_index_names_the_rebuild_command(tmp_path, assets):
    with pytest.raises(IndexError_, match="python -m embeddings.build"):
        TrackIndex.load(tmp_path / "none")
    idx = TrackIndex(assets.index.vectors[:100], index_type="flat")
    idx.save(tmp_path / "idx")
    with open(tmp_path / "idx" / "tracks.faiss", "r+b") as f:
        f.seek(60)
        f.write(b"garbage!")
    with pytest.raises(IndexError_, match="corrupt.*python -m embeddings.build"):
        TrackIndex.load(tmp_path / "idx")
    with pytest.raises(IndexError_, match="zero tracks"):
        TrackIndex(np.zeros((0, 8), np.float32))


def test_hnsw_filtered_search_respects_constraints(assets):
    idx = TrackIndex(assets.index.vectors, index_type="hnsw", exact_filter_max=10)
    allowed = assets.arrays.mask({"genre": "pop"})
    rows, _ = idx.search(assets.index.vectors[0], 10, allowed=allowed)
    assert len(rows) == 10 and allowed[rows].all()


def test_genre_partitioned_hnsw_respects_constraints_and_round_trips(assets, tmp_path):
    genres = assets.catalog["genre"].to_numpy()
    idx = TrackIndex(assets.index.vectors, index_type="hnsw", exact_filter_max=50, partitions=genres)
    assert idx.part_index, "large genre families get their own graph"
    q = assets.index.vectors[1]
    for slots in ({"genre": "rock"}, {"genre": "rock", "energy": "upbeat"}, {"energy": "laid_back"}):
        allowed = assets.arrays.mask(slots)
        rows, _ = idx.search(q, 10, allowed=allowed)
        assert len(rows) == 10 and allowed[rows].all()
        exact = np.flatnonzero(allowed)[np.argsort(-(assets.index.vectors[allowed] @ q))[:10]]
        assert len(np.intersect1d(rows, exact)) >= 8  # approximate, but close to exact
    idx.save(tmp_path / "index")
    loaded = TrackIndex.load(tmp_path / "index", expected_tracks=len(genres))
    allowed = assets.arrays.mask({"genre": "rock"})
    assert list(loaded.search(q, 10, allowed=allowed)[0]) == list(idx.search(q, 10, allowed=allowed)[0])
    part = next((tmp_path / "index").glob("tracks.part*.faiss"))
    part.write_bytes(part.read_bytes()[:-100])
    with pytest.raises(IndexError_, match="python -m embeddings.build"):
        TrackIndex.load(tmp_path / "index")
