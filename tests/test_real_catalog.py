"""Building the real catalogue, the sessions and the open audio catalogue from the public data sets:
joins, genre mapping, non-music, bad input (small fixture copies of each source's format)."""
import json
import logging
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from music_domain import real_catalog as rc
from music_domain.attributes import GENRE_FAMILIES, SUBGENRE_TO_FAMILY
from music_domain.audio_previews import AUDIO_DIR, build_open_catalog, decode

FEATS = dict(danceability=0.5, energy=0.5, key=1, loudness=-6.0, mode=1, speechiness=0.05, acousticness=0.2,
             instrumentalness=0.0, liveness=0.1, valence=0.5, tempo=120.0, duration_ms=200000)


def k_row(tid, name, artists, genre, **kw):
    return {"track_id": tid, "artists": artists, "album_name": "A", "track_name": name, "popularity": 50,
            "explicit": False, **FEATS, "time_signature": 4, "track_genre": genre, **kw}


def t_row(tid, name, artist, date, playlist, sub, **kw):
    return {"track_id": tid, "track_name": name, "track_artist": artist, "track_popularity": 60,
            "track_album_id": "x", "track_album_name": "A", "track_album_release_date": date,
            "playlist_name": f"list {playlist}", "playlist_id": playlist, "playlist_genre": "rock",
            "playlist_subgenre": sub, **FEATS, **kw}


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    (d / "spotify_tracks_114k").mkdir(parents=True)
    (d / "spotify_songs_tidytuesday").mkdir()
    (d / "cpcd").mkdir()
    k = pd.DataFrame([
        k_row("a1", "Song One", "Band A;Guest", "alt-rock"),
        k_row("a1", "Song One", "Band A;Guest", "chill"),               # same id, second genre
        k_row("w1", "Clean White Noise - Loopable", "White Noise Baby Sleep", "sleep", tempo=0.0),
        k_row("c1", "Airport Bit", "A Comic", "comedy", speechiness=0.93),
        k_row("s1", "Nattljus", "Quiet Piano", "sleep"),                # sleep music stays music
        k_row("b1", "", "Nobody", "pop"),                               # empty name: dropped
        k_row("b2", "Too Loud", "X", "pop", energy=7.5),                # out of range: dropped
        k_row("ch1", "Lofi Day", "Beat Maker", "chill"),
        k_row("m1", "Club Mix", "DJ", "party"),
        k_row("m1", "Club Mix", "DJ", "deep-house"),
    ])
    k.to_csv(d / "spotify_tracks_114k" / "spotify_tracks_114k.csv", index=False)
    t = pd.DataFrame([
        t_row("a1", "Song One", "Band A", "1997-05-01", "p1", "permanent wave"),
        t_row("t2", "Two", "Band B", "2004", "p1", "album rock"),
        t_row("t3", "Three", "Band C", "2012-03", "p1", "hip pop"),
        t_row("t4", "Four", "Band D", "2019-01-01", "p1", "neo soul"),
        t_row("t5", "Five", "Band E", "2019-01-01", "p2", "big room", tempo="fast"),  # non-numeric: dropped
    ])
    t.to_csv(d / "spotify_songs_tidytuesday" / "spotify_songs.csv", index=False)
    dialog = {"id": "d1", "goal_playlist": ["y1", "y2", "y3", "y4"], "turns": [],
              "tracks": {"y1": {"track_titles": ["Song One (feat. Guest)"], "track_artists": ["Band A"]},
                         "y2": {"track_titles": ["Two - Remastered 2011"], "track_artists": ["Band B"]},
                         "y3": {"track_titles": ["Lofi Day"], "track_artists": ["Beat Maker"]},
                         "y4": {"track_titles": ["Unknown"], "track_artists": ["Nobody Here"]}}}
    (d / "cpcd" / "cpcd_v1.dialogs.dev.train.jsonl").write_text(json.dumps(dialog) + "\n")
    return d


def test_build_joins_maps_and_counts_bad_rows(data, tmp_path):
    counts = rc.build(data, tmp_path / "out", audio=False)
    cat = pd.read_parquet(tmp_path / "out" / rc.TRACKS_FILE).set_index("track_id")
    # bad rows dropped and counted, never used
    assert "b1" not in cat.index and "b2" not in cat.index and "t5" not in cat.index
    assert counts["spotify_tracks_114k: empty track_name"] == 1
    assert counts["spotify_tracks_114k: bad energy"] == 1
    assert counts["spotify_songs_tidytuesday: bad tempo"] == 1
    assert counts["duplicate track ids merged"] >= 2
    # the year is borrowed by track id; no source year -> unknown
    assert cat.loc["a1", "year"] == 1997 and pd.isna(cat.loc["ch1", "year"])
    assert cat.loc["t3", "year"] == 2012
    # genres: a style genre wins over a use genre; TidyTuesday subgenres get ids and families
    assert (cat.loc["a1", "subgenre"], cat.loc["a1", "genre"]) == ("permanent-wave", "rock")  # TidyTuesday first
    assert (cat.loc["m1", "subgenre"], cat.loc["m1", "genre"]) == ("deep-house", "electronic")
    assert cat.loc["a1", "artist_name"] == "Band A"
    assert (cat.loc["t3", "subgenre"], cat.loc["t3", "genre"]) == ("hip-pop", "hip hop")
    assert (cat.loc["t4", "subgenre"], cat.loc["t4", "genre"]) == ("neo-soul", "soul and jazz")
    # "chill" is an energy word: Spotify's chill genre is filed as chillout (ambient family)
    assert (cat.loc["ch1", "subgenre"], cat.loc["ch1", "genre"]) == ("chillout", "ambient")
    # non-music: by name and by speech; sleep music stays music
    assert cat.loc["w1", "content"] == "sound" and cat.loc["w1", "subgenre"] == "white-noise"
    assert cat.loc["c1", "content"] == "spoken" and cat.loc["c1", "genre"] == "other"
    assert cat.loc["s1", "content"] == "music" and cat.loc["s1", "genre"] == "ambient"
    # sessions: the playlist, and the CPCD liked set joined by normalised title and first artist
    s = pd.read_parquet(tmp_path / "out" / rc.SESSIONS_FILE)
    assert list(s[s.session_id == "pl-p1"].track_id) == ["a1", "t2", "t3", "t4"]
    assert list(s[s.session_id == "cpcd-d1"].track_id) == ["a1", "t2", "ch1"]
    assert counts["cpcd liked tracks"] == 4 and counts["cpcd liked tracks joined"] == 3


def test_missing_data_folder_is_named(data, tmp_path, capsys):
    shutil.rmtree(data / "spotify_songs_tidytuesday")
    with pytest.raises(rc.SourceMissing, match="spotify_songs_tidytuesday"):
        rc.build(data, tmp_path / "out", audio=False)
    assert rc.main(["--data", str(data), "--out", str(tmp_path / "out")]) == 2
    assert "data folder not found" in capsys.readouterr().err
    # set-up keeps a shipped catalogue when the public data are not there, and says so
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / rc.TRACKS_FILE).write_bytes(b"x")
    assert rc.main(["--data", str(data), "--out", str(tmp_path / "out"), "--if-missing-keep"]) == 0
    assert "spotify_songs_tidytuesday" in capsys.readouterr().err


def test_non_utf8_source_is_rejected(data, tmp_path):
    path = data / "spotify_songs_tidytuesday" / "spotify_songs.csv"
    path.write_bytes(path.read_bytes() + "t9,Caf\xe9,X,1,x,A,2001,l,p9,rock,album rock\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        rc.build(data, tmp_path / "out", audio=False)


def test_every_source_genre_has_a_family():
    # the 114 genres of spotify_tracks_114k and the 24 TidyTuesday subgenres (their READMEs)
    spotify = ("acoustic afrobeat alt-rock alternative ambient anime black-metal bluegrass blues brazil breakbeat "
               "british cantopop chicago-house children chill classical club comedy country dance dancehall "
               "death-metal deep-house detroit-techno disco disney drum-and-bass dub dubstep edm electro electronic "
               "emo folk forro french funk garage german gospel goth grindcore groove grunge guitar happy hard-rock "
               "hardcore hardstyle heavy-metal hip-hop honky-tonk house idm indian indie indie-pop industrial "
               "iranian j-dance j-idol j-pop j-rock jazz k-pop kids latin latino malay mandopop metal metalcore "
               "minimal-techno mpb new-age opera pagode party piano pop pop-film power-pop progressive-house "
               "psych-rock punk punk-rock r-n-b reggae reggaeton rock rock-n-roll rockabilly romance sad salsa "
               "samba sertanejo show-tunes singer-songwriter ska sleep songwriter soul spanish study swedish "
               "synth-pop tango techno trance trip-hop turkish world-music").split()
    tidy = ["dance pop", "post-teen pop", "electropop", "indie poptimism", "hip hop", "southern hip hop",
            "gangster rap", "trap", "album rock", "classic rock", "permanent wave", "hard rock", "tropical",
            "latin pop", "reggaeton", "latin hip hop", "urban contemporary", "hip pop", "new jack swing",
            "neo soul", "electro house", "big room", "pop edm", "progressive electro house"]
    assert len(spotify) == 114
    for g in spotify + tidy:
        sub = rc.subgenre_id(g)
        assert SUBGENRE_TO_FAMILY.get(sub) not in (None, "other") or sub == "comedy", g
    assert "chill" not in GENRE_FAMILIES and "chill" not in SUBGENRE_TO_FAMILY


def mp3_info(path):
    import imageio_ffmpeg

    err = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True).stderr
    h, m, s = re.search(r"Duration: (\d+):(\d+):([\d.]+)", err).groups()
    audio = re.search(r"Audio: (\w+).*?, (\d+) Hz, (\w+),.*?(\d+) kb/s", err)
    return {"codec": audio.group(1), "rate": int(audio.group(2)), "channels": audio.group(3),
            "kbps": int(audio.group(4)), "seconds": int(h) * 3600 + int(m) * 60 + float(s)}


def test_open_clips_become_alexa_ready_previews_and_bad_audio_is_skipped(tmp_path, caplog):
    clips = tmp_path / "clips"
    clips.mkdir()
    # a real clip: 40 s of a shipped preview re-encoded as Ogg, plus its attribution note
    src = decode(sorted(AUDIO_DIR.glob("*.mp3"))[0])
    (src + src)[:40_000].export(str(clips / "Some_Artist_-_Tune.ogg"), format="ogg")
    (clips / "Some_Artist_-_Tune.txt").write_text(
        "Tune by Some Artist is licensed under a Creative Commons Attribution License.\n"
        "From the Free Music Archive: https://example.org/tune\nCC-BY https://creativecommons.org/licenses/by/3.0/\n")
    (clips / "README.md").write_text("| file | title | genre |\n| --- | --- | --- |\n| `Some_Artist_-_Tune.ogg` | Tune | jazz |\n")
    (clips / "Broken.ogg").write_bytes(b"OggS" + bytes(range(256)) * 4)   # not decodable
    (clips / "Broken.txt").write_text("Broken by Nobody is licensed under a Creative Commons Attribution License.\n")
    (clips / "No_note.ogg").write_bytes((clips / "Some_Artist_-_Tune.ogg").read_bytes())
    with caplog.at_level(logging.WARNING):
        counts = build_open_catalog(clips, None, audio_dir=tmp_path / "audio", out_csv=tmp_path / "open.csv")
    assert counts == {"open clips converted": 1, "open clips skipped": 2}
    assert any("Broken.ogg" in r.getMessage() and "cannot be decoded" in r.getMessage() for r in caplog.records)
    assert any("No_note.ogg" in r.getMessage() for r in caplog.records)
    row = pd.read_csv(tmp_path / "open.csv").iloc[0]
    assert (row.track_name, row.artist_name, row.subgenre) == ("Tune", "Some Artist", "jazz")
    assert row.attribution == "Tune by Some Artist, CC BY 3.0, shortened"
    info = mp3_info(tmp_path / "audio" / f"{row.track_id}.mp3")
    assert info["codec"] == "mp3" and info["kbps"] == 48 and info["rate"] in (16000, 22050, 24000)
    assert info["channels"] == "mono" and 29.0 <= info["seconds"] <= 30.5 and row.preview_seconds == 30.0


def test_shipped_previews_are_alexa_ready():
    files = sorted(AUDIO_DIR.glob("*.mp3"))
    assert len(files) >= 3
    for f in files:
        info = mp3_info(f)
        assert info["codec"] == "mp3" and info["kbps"] == 48 and info["rate"] in (16000, 22050, 24000)
        assert info["seconds"] <= 240


def test_a_missing_year_is_borrowed_from_the_same_song_by_the_same_artist():
    import pandas as pd

    from music_domain.real_catalog import same_song_years, song_key

    cat = pd.DataFrame({
        "artist_name": ["Metallica", "Metallica", "Metallica", "Metallica", "A Cover Band", "Metallica"],
        "track_name": ["Nothing Else Matters", "Nothing Else Matters - Remastered 2021", "Nothing Else Matters",
                       "Nothing Else Matters (Live)", "Nothing Else Matters", "Enter Sandman"],
        "year": [1991, None, 1996, None, None, None],
    })
    counts = {}
    years = same_song_years(cat, counts).tolist()
    assert years[:3] == [1991, 1991, 1996]  # a known year is kept; a missing one takes the earliest
    assert pd.isna(years[3])  # a live recording has its own date
    assert pd.isna(years[4])  # another artist's song of the same title is not the same song
    assert pd.isna(years[5]) and counts["years borrowed from the same song"] == 1
    assert song_key("", "Intro") is None and song_key("Björk", "Jóga") == song_key("bjork", "Joga")


def test_another_version_of_a_song_is_the_same_work_for_a_listener():
    """`make shell`: "too fast" after "Give Me Light - Piano Solo" played "Give Me Light". For what
    a listener is offered next, a live recording or another arrangement is the same song
    (``work_key``); for dates it is not (``song_key``)."""
    from music_domain.real_catalog import song_key, work_key

    assert work_key("Hillsong", "Give Me Light - Piano Solo") == work_key("Hillsong", "Give Me Light")
    assert work_key("Eagles", "Hotel California - Live 1976") == work_key("Eagles", "Hotel California (Live)")
    assert song_key("Eagles", "Hotel California - Live 1976") is None  # its own date
    assert work_key("Apparat", "Goodbye - Theme from Dark") == work_key("apparat", "Goodbye")
    assert work_key("Hillsong", "Goodness of God (Live)") == work_key("Hillsong", "Goodness of God - Radio Edit")
    # another piece is another work: a part, a movement, an aria
    assert work_key("BTS", "DNA (Part 2)") != work_key("BTS", "DNA")
    assert work_key("Verdi", "Attila - Act 1: Aria") != work_key("Verdi", "Attila - Act 2: Duet")
    assert work_key("A Cover Band", "Hotel California") != work_key("Eagles", "Hotel California")
    assert work_key("Eagles", "Hotel California") != work_key("Eagles", "New Kid in Town")
    for title in ("", "(Live)", None, float("nan")):
        assert work_key("Eagles", title) is None
    assert work_key("", "Hotel California") is None
