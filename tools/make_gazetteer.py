"""Writes the name lists the mention tagger uses as gazetteer features:
rasa_project/data/music_ner/gazetteer_artists.txt and gazetteer_works.txt (one normalised name a
line, as ``music_domain.mentions.name_key`` gives it), and artist_genres.tsv: each artist's genre
family (``music_domain.attributes.GENRE_FAMILIES``, the family most of the artist's tracks belong
to, when at least half do), the "vein" of an artist the catalogue lacks
(``music_domain.mentions.infer_vein``).

Sources (all under ../shared/data, see each README there): the artists, track and album names of
``spotify_tracks_114k`` (Pandya 2022, ODbL 1.0), ``spotify_songs_tidytuesday`` (TidyTuesday /
Kaylin Pavlik) and the tracks of ``cpcd`` (Chaganty et al., SIGIR 2023, CC BY 4.0). None of them
is the NER corpus, so the held-out queries stay unseen. Works are kept with 2 to 6 words (one-word
titles such as "Home" or "Intro" are mostly common words).

    python tools/make_gazetteer.py [--shared ../shared/data]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from music_domain.mentions import NER_DATA_DIR, name_key  # noqa: E402


def main(argv=None):
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    a = ap.parse_args(argv)
    artists, works = set(), set()
    from collections import Counter, defaultdict

    from music_domain.attributes import SUBGENRE_TO_FAMILY
    from music_domain.mentions import resolve_key

    families = defaultdict(Counter)  # artist key -> genre family counts
    d = pd.read_csv(a.shared / "spotify_tracks_114k" / "spotify_tracks_114k.csv",
                    usecols=["artists", "album_name", "track_name", "track_genre"])
    for cell, genre in zip(d["artists"], d["track_genre"]):
        if not isinstance(cell, str):
            continue
        names = [x.strip() for x in cell.split(";")]
        artists.update(names)
        fam = SUBGENRE_TO_FAMILY.get(str(genre))
        if fam and fam != "other":
            families[resolve_key(names[0])][fam] += 1
    works.update(d["track_name"].dropna())
    works.update(d["album_name"].dropna())
    s = pd.read_csv(a.shared / "spotify_songs_tidytuesday" / "spotify_songs.csv",
                    usecols=["track_artist", "track_name", "track_album_name", "playlist_genre"])
    artists.update(s["track_artist"].dropna())
    playlist_family = {"edm": "electronic", "latin": "latin", "pop": "pop", "r&b": "soul and jazz",
                       "rap": "hip hop", "rock": "rock"}
    for artist, genre in zip(s["track_artist"], s["playlist_genre"]):
        if isinstance(artist, str) and playlist_family.get(str(genre)):
            families[resolve_key(artist)][playlist_family[str(genre)]] += 1
    works.update(s["track_name"].dropna())
    works.update(s["track_album_name"].dropna())
    with open(a.shared / "cpcd" / "cpcd_v1.dialogs.dev.train.jsonl", encoding="utf-8") as f:
        for line in f:
            for track in json.loads(line)["tracks"].values():
                artists.update(track.get("track_artists") or [])
                for key in ("track_titles", "track_release_titles"):
                    v = track.get(key)
                    works.update(v if isinstance(v, list) else [v] if v else [])
    a_keys = sorted({k for k in map(name_key, map(str, artists)) if len(k) >= 2 and len(k.split()) <= 6})
    w_keys = sorted({k for k in map(name_key, map(str, works)) if 2 <= len(k.split()) <= 6})
    NER_DATA_DIR.mkdir(parents=True, exist_ok=True)
    (NER_DATA_DIR / "gazetteer_artists.txt").write_text("\n".join(a_keys) + "\n", encoding="utf-8")
    (NER_DATA_DIR / "gazetteer_works.txt").write_text("\n".join(w_keys) + "\n", encoding="utf-8")
    veins = []
    for key, counts in sorted(families.items()):
        fam, n = counts.most_common(1)[0]
        if key and n * 2 >= sum(counts.values()):
            veins.append(f"{key}\t{fam}")
    (NER_DATA_DIR / "artist_genres.tsv").write_text("\n".join(veins) + "\n", encoding="utf-8")
    print(f"{len(a_keys)} artist names, {len(w_keys)} work names, {len(veins)} artist genre families "
          f"-> {NER_DATA_DIR}")


if __name__ == "__main__":
    main()
