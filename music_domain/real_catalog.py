"""Build the default catalogue and the real listening sessions from the public data sets.

    python -m music_domain.real_catalog [--data ../shared/data] [--out data/catalog]

Sources (each folder's README under ``--data`` gives its licence and columns):

- ``spotify_tracks_114k/spotify_tracks_114k.csv``: 114 Spotify genres with audio features, no year
  (Pandya 2022, ODbL 1.0);
- ``spotify_songs_tidytuesday/spotify_songs.csv``: tracks of 471 real playlists with release dates
  (TidyTuesday 2020-01-21, data by Kaylin Pavlik; MIT);
- ``data/catalog/spotify_tracks_sample.csv`` (shipped): the earlier 3,866-track sample, with years;
- ``cpcd/cpcd_v1.dialogs.dev.train.jsonl``: liked tracks of real playlist-curation dialogues
  (Chaganty et al. 2023, CC BY 4.0), joined to the catalogue by (title, first artist);
- ``audio_previews/*.ogg``: openly licensed clips, trimmed and converted to MP3 previews
  (``music_domain.audio_previews``) as a small open catalogue with real audio.

Writes (all shipped in the repository, see DATA_LICENSES.md):

- ``real_tracks.parquet``: one row a distinct track id. Year borrowed by track id from the sources
  that have one (empty when none does: such a track never satisfies an era constraint). Genre
  names are mapped to the project's subgenre ids and families (``music_domain.attributes``), and
  each track gets a ``content`` class: ``music``, ``spoken`` (comedy, spoken word) or ``sound``
  (white noise, rain, nature sounds), which the assistant never offers unless asked for by name.
- ``sessions.parquet``: real sessions, one row a (session, track): the TidyTuesday playlists and
  the CPCD liked sets, as ``session_id, source, name, position, track_id``.
- ``open_tracks.csv`` + ``data/audio/<track_id>.mp3``: the open catalogue.

Bad input: a source whose folder is missing stops the build with a message naming it; rows with
an empty id or name, a non-numeric or out-of-range audio feature are dropped and counted; the
counts are printed.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import unicodedata
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd

from music_domain.attributes import SOURCE_GENRE_IDS, SUBGENRE_TO_FAMILY
from music_domain.catalog import PROJECT_ROOT, RANGES

logger = logging.getLogger(__name__)

DEFAULT_DATA = PROJECT_ROOT.parent / "shared" / "data"
DEFAULT_OUT = PROJECT_ROOT / "data" / "catalog"
SAMPLE = PROJECT_ROOT / "data" / "catalog" / "spotify_tracks_sample.csv"  # shipped: the earlier sample
TRACKS_FILE = "real_tracks.parquet"
SESSIONS_FILE = "sessions.parquet"

SOURCES = {
    "spotify_tracks_114k": "spotify_tracks_114k.csv",
    "spotify_songs_tidytuesday": "spotify_songs.csv",
    "cpcd": "cpcd_v1.dialogs.dev.train.jsonl",
}
FEATURES = ("danceability", "energy", "speechiness", "acousticness", "instrumentalness", "liveness",
            "valence", "tempo", "loudness")
COLUMNS = ("track_id", "track_name", "artist_name", "genre", "subgenre", "year", "popularity",
           *FEATURES, "duration_ms", "content", "source")

# Non-music: recordings of noise and nature, and spoken word. By title/artist words (the names say
# what they are: "Clean White Noise - Loopable", "Rain Sounds") and, for speech, by Spotify's own
# reading of speechiness ("above 0.66: probably made entirely of spoken words") in the genres where
# speech is not rapped or sung.
_SOUND = re.compile(
    r"\b(?:white|brown|pink|gr[ae]y|green|blue|fan|hoover|vacuum(?: cleaner)?|dryer|washing machine) noise\b"
    r"|\bnoise (?:for|to help) (?:sleep|baby|babies|relax|focus|study)"
    r"|\b(?:rain|rainfall|nature|ocean|sea|wave|waves|forest|bird|birds|thunder|thunderstorm|storm|water|stream"
    r"|river|fire|fireplace|campfire|wind|womb|heartbeat|sleep|spa|shush|whale)\s+sounds?\b"
    r"|\bsounds? of (?:the )?(?:rain|nature|ocean|sea|forest|thunder|waves|water|wind|fire)\b"
    r"|\bbinaural beats?\b|\bsolfeggio\b|\basmr\b|\bvacuum cleaner\b|\bair condition(?:er|ing)\b|\bbox fan\b"
    r"|\bhair ?dryer\b|\bloopable\b|\bno fade\b|\b(?:rain|thunderstorm|ocean waves?) (?:for|to) (?:sleep|relax)",
    re.I)
SPOKEN_GENRES = {"comedy", "kids", "children", "show-tunes", "disney", "spoken-word"}
SPOKEN_SPEECHINESS = 0.66
NON_MUSIC_SUBGENRE = {"sound": "white-noise", "spoken": "spoken-word"}


class SourceMissing(FileNotFoundError):
    """A data folder or file the build needs is absent."""


def source_path(data: Path, name: str) -> Path:
    folder = Path(data) / name
    if not folder.is_dir():
        raise SourceMissing(f"data folder not found: {folder} (needed for the catalogue; see README "
                            f"'Data'; pass --data to point at the folder holding {name}/)")
    path = folder / SOURCES[name]
    if not path.is_file():
        raise SourceMissing(f"data file not found: {path}")
    return path


def read_csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8", **kw)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e


def subgenre_id(name: str) -> str:
    """A source genre name as the project's subgenre id: 'album rock' -> 'album-rock', 'r&b' -> 'r-n-b'."""
    key = re.sub(r"\s+", "-", str(name).strip().lower().replace("&", "-n-"))
    return SOURCE_GENRE_IDS.get(key, key)


def name_key(text) -> str:
    """Normalised title/artist for joins: accents, case, '(feat. ...)', ' - Remastered 2011' removed."""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    t = re.sub(r"\s*[\(\[](?:feat|ft|with)\.?[^\)\]]*[\)\]]", "", t)
    t = re.sub(r"\s+-\s+.*(?:remaster|version|edit|mix|live|mono|stereo|single).*$", "", t)
    return re.sub(r"[^a-z0-9]+", " ", t).strip()


def song_key(artist, title) -> Optional[str]:
    """The same song by the same artist under another track id (a remaster, a mix, a single and
    its album): normalised artist and title. None for a live recording, which has its own date."""
    if re.search(r"\blive\b", str(title), re.IGNORECASE):
        return None
    a, t = name_key(artist), name_key(title)
    return f"{a}|{t}" if a and t else None


# what a title's " - ..." tail or bracket says when it names a version of the song, not another
# piece ("Part 2", "Pt. 1", "No. 3", an aria's name stay apart)
_VERSION = re.compile(r"\b(?:live|en vivo|ao vivo|acoustic|unplugged|piano|solo|orchestral|instrumental|"
                      r"remix|mix|version|ver|edit|demo|remaster(?:ed)?|mono|stereo|single|radio|extended|"
                      r"original|session|sessions|reprise|from|soundtrack|theme)\b", re.IGNORECASE)


def work_key(artist, title) -> Optional[str]:
    """The song as a listener hears it, whatever the recording: normalised artist and the title
    without a " - " tail or a bracket that names a version (live, acoustic, piano solo, a mix, a
    remaster, "from" a soundtrack), so "Give Me Light - Piano Solo" and "Give Me Light", or
    "Hotel California - Live 1976" and "Hotel California", are one work each, while "DNA" and
    "DNA (Part 2)" are two. Looser than ``song_key`` (which keeps arrangements and live
    recordings apart, for their own dates): it is what a listener who turned one version down or
    critiqued it must not be offered again as the next sample."""
    if not isinstance(title, str) or not isinstance(artist, str):
        return None  # a missing name (None, NaN) is no work
    head, sep, tail = title.partition(" - ")
    base = head if sep and _VERSION.search(tail) else title
    base = re.sub(r"\s*[\(\[]([^\)\]]*)[\)\]]", lambda m: " " if _VERSION.search(m.group(1)) else m.group(0), base)
    a, t = name_key(artist), name_key(base)
    return f"{a}|{t}" if a and t else None


def same_song_years(cat: pd.DataFrame, counts: Optional[Dict[str, int]] = None) -> pd.Series:
    """Years, a missing one borrowed from the earliest known release of the same song by the
    same artist (``song_key``): "Nothing Else Matters" under three track ids, one dated 1991."""
    keys = pd.Series([song_key(a, t) for a, t in zip(cat["artist_name"], cat["track_name"])], index=cat.index)
    year = pd.to_numeric(cat["year"], errors="coerce")
    earliest = year[keys.notna()].groupby(keys[keys.notna()]).min()
    filled = year.fillna(keys.map(earliest))
    if counts is not None:
        counts["years borrowed from the same song"] = int(filled.notna().sum() - year.notna().sum())
    return filled


def classify_content(frame: pd.DataFrame) -> np.ndarray:
    """'music', 'spoken' or 'sound' for each row (columns track_name, artist_name, subgenre, speechiness)."""
    names = frame["track_name"].astype(str) + " | " + frame["artists_all"].astype(str)
    sound = names.str.contains(_SOUND).to_numpy()
    spoken = ((frame["speechiness"].to_numpy() > SPOKEN_SPEECHINESS)
              & frame["source_genres"].map(lambda gs: bool(set(gs) & SPOKEN_GENRES)).to_numpy())
    return np.where(sound, "sound", np.where(spoken, "spoken", "music"))


def _clean(frame: pd.DataFrame, source: str, counts: Dict[str, int]) -> pd.DataFrame:
    """Drop rows with an empty id or name, or a missing/out-of-range feature; count them by reason."""
    ok = pd.Series(True, index=frame.index)
    for col in ("track_id", "track_name", "artist_name"):
        blank = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
        counts[f"{source}: empty {col}"] = int((blank & ok).sum())
        ok &= ~blank
    for col in (*FEATURES, "popularity"):
        lo, hi = RANGES.get(col, (-60.0, 5.0) if col == "loudness" else (-np.inf, np.inf))
        v = pd.to_numeric(frame[col], errors="coerce")
        bad = v.isna() | (v < lo) | (v > hi)
        counts[f"{source}: bad {col}"] = int((bad & ok).sum())
        ok &= ~bad
        frame[col] = v
    return frame[ok].copy()


def load_sources(data: Path, counts: Dict[str, int]) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(catalogue, tidytuesday rows); the catalogue has one row a distinct track id."""
    k = read_csv(source_path(data, "spotify_tracks_114k"))
    k = k.rename(columns={"track_genre": "source_genre"})
    k["artists_all"] = k["artists"].fillna("").astype(str)
    k["artist_name"] = k["artists_all"].str.split(";").str[0].str.strip()
    k["year"] = np.nan
    k["source"] = "spotify_tracks_114k"
    k = _clean(k, "spotify_tracks_114k", counts)

    t = read_csv(source_path(data, "spotify_songs_tidytuesday"))
    t_all = t.copy()
    t = t.rename(columns={"track_artist": "artist_name", "track_popularity": "popularity",
                          "playlist_subgenre": "source_genre"})
    t["artists_all"] = t["artist_name"].fillna("").astype(str)
    t["year"] = pd.to_numeric(t["track_album_release_date"].astype(str).str[:4], errors="coerce")
    t["source"] = "spotify_songs_tidytuesday"
    t = _clean(t, "spotify_songs_tidytuesday", counts)

    s = read_csv(SAMPLE)
    s = s.rename(columns={"genre": "source_genre"})
    s["artists_all"] = s["artist_name"].fillna("").astype(str)
    s["source"] = "catalog_sample"
    s = _clean(s, "catalog_sample", counts)

    frames = [s, t, k]  # precedence for names and genre: the sample, then TidyTuesday, then 114k
    cols = ["track_id", "track_name", "artist_name", "artists_all", "source_genre", "year", "popularity",
            *FEATURES, "duration_ms", "source"]
    rows = pd.concat([f[cols] for f in frames], ignore_index=True)
    rows["source_genre"] = rows["source_genre"].map(subgenre_id)
    # Every genre a track is listed under (a track is in several playlists or 114k genres).
    genres = rows.groupby("track_id", sort=False)["source_genre"].agg(lambda g: list(dict.fromkeys(g)))
    years = rows.groupby("track_id", sort=False)["year"].min()  # the earliest known release
    popularity = rows.groupby("track_id", sort=False)["popularity"].max()
    cat = rows.drop_duplicates("track_id", keep="first").set_index("track_id")
    cat["source_genres"] = genres
    cat["year"] = years
    cat["popularity"] = popularity
    counts["duplicate track ids merged"] = int(len(rows) - len(cat))
    cat = cat.reset_index()
    cat["year"] = same_song_years(cat, counts)
    cat["subgenre"] = cat["source_genres"].map(_pick_subgenre)
    cat["content"] = classify_content(cat)
    music = cat["content"] == "music"
    cat.loc[~music, "subgenre"] = cat.loc[~music, "content"].map(NON_MUSIC_SUBGENRE)
    cat.loc[~music & cat["source_genres"].map(lambda g: "comedy" in g), "subgenre"] = "comedy"
    cat["genre"] = cat["subgenre"].map(lambda g: SUBGENRE_TO_FAMILY.get(g, "other"))
    counts["non-music: sound"] = int((cat["content"] == "sound").sum())
    counts["non-music: spoken"] = int((cat["content"] == "spoken").sum())
    return cat, t_all


# Genres named after a use or a mood rather than a style ("party", "sad", "study") lose to a
# style genre when a track is listed under both.
_USE_GENRES = ("chillout", "happy", "sad", "party", "study", "sleep", "romance", "groove", "guitar",
               "piano", "british", "swedish", "french", "german", "spanish", "indian", "iranian", "malay",
               "turkish", "brazil", "world-music", "anime", "disney", "pop-film")


def _pick_subgenre(genres: List[str]) -> str:
    known = [g for g in genres if g in SUBGENRE_TO_FAMILY]
    style = [g for g in known if g not in _USE_GENRES]
    return (style or known or genres)[0]


def cpcd_sessions(data: Path, catalog: pd.DataFrame, counts: Dict[str, int]) -> pd.DataFrame:
    """CPCD liked sets (goal playlists) joined to catalogue ids by (title, first artist)."""
    path = source_path(data, "cpcd")
    key_to_id: Dict[Tuple[str, str], str] = {}
    music = catalog[catalog["content"] == "music"]
    for tid, title, artist in zip(music["track_id"], music["track_name"], music["artist_name"]):
        key_to_id.setdefault((name_key(title), name_key(artist)), tid)
    rows, seen, matched = [], 0, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            tracks = d.get("tracks") or {}
            liked = list(dict.fromkeys(d.get("goal_playlist") or []))
            pos = 0
            for yt in liked:
                info = tracks.get(yt) or {}
                titles = info.get("track_titles") or []
                artists = info.get("track_artists") or []
                title = titles[0] if isinstance(titles, list) and titles else titles
                artist = artists[0] if artists else None
                seen += 1
                tid = key_to_id.get((name_key(title), name_key(artist))) if title and artist else None
                if tid:
                    matched += 1
                    rows.append((f"cpcd-{d['id']}", "cpcd", "", pos, tid))
                    pos += 1
    counts["cpcd liked tracks"] = seen
    counts["cpcd liked tracks joined"] = matched
    return pd.DataFrame(rows, columns=["session_id", "source", "name", "position", "track_id"])


def playlist_sessions(tidy: pd.DataFrame, catalog_ids: set) -> pd.DataFrame:
    t = tidy[tidy["track_id"].isin(catalog_ids)]
    t = t.drop_duplicates(["playlist_id", "track_id"])
    out = pd.DataFrame({"session_id": "pl-" + t["playlist_id"].astype(str), "source": "tidytuesday",
                        "name": t["playlist_name"].fillna("").astype(str), "track_id": t["track_id"]})
    out["position"] = out.groupby("session_id").cumcount()
    return out[["session_id", "source", "name", "position", "track_id"]]


def build(data: Path = DEFAULT_DATA, out: Path = DEFAULT_OUT, min_session: int = 3,
          audio: bool = True) -> Dict[str, int]:
    data, out = Path(data), Path(out)
    counts: Dict[str, int] = {}
    cat, tidy = load_sources(data, counts)
    sessions = pd.concat([playlist_sessions(tidy, set(cat["track_id"])), cpcd_sessions(data, cat, counts)],
                         ignore_index=True)
    size = sessions.groupby("session_id")["track_id"].transform("size")
    counts["sessions dropped (< %d tracks)" % min_session] = int(sessions.loc[size < min_session, "session_id"].nunique())
    sessions = sessions[size >= min_session].reset_index(drop=True)
    cat = cat.sort_values("track_id", kind="stable").reset_index(drop=True)
    for col in FEATURES:
        cat[col] = cat[col].astype("float32").round(4)
    cat["popularity"] = cat["popularity"].astype("int16")
    cat["year"] = cat["year"].astype("Int16")
    cat["duration_ms"] = pd.to_numeric(cat["duration_ms"], errors="coerce").fillna(0).astype("int32")
    out.mkdir(parents=True, exist_ok=True)
    cat = cat[list(COLUMNS)]
    if audio:
        from music_domain.audio_previews import OPEN_TRACKS, build_open_catalog

        open_csv = out / OPEN_TRACKS.name
        counts.update(build_open_catalog(data / "audio_previews", cat, out_csv=open_csv))
        opened = pd.read_csv(open_csv)
        if len(opened):
            cat = pd.concat([cat, opened.astype({c: cat[c].dtype for c in COLUMNS
                                                 if c in opened and c not in ("year",)})], ignore_index=True)
    cat.to_parquet(out / TRACKS_FILE, index=False, compression="zstd")
    sessions.to_parquet(out / SESSIONS_FILE, index=False, compression="zstd")
    counts["tracks"] = len(cat)
    counts["tracks with a year"] = int(cat["year"].notna().sum())
    counts["sessions"] = int(sessions["session_id"].nunique())
    return counts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(DEFAULT_DATA), help="folder holding the public data sets")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.add_argument("--if-missing-keep", action="store_true",
                   help="when a data folder is missing but the shipped catalogue exists, keep it (exit 0)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    try:
        counts = build(Path(a.data), Path(a.out))
    except SourceMissing as e:
        shipped = Path(a.out) / TRACKS_FILE
        if a.if_missing_keep and shipped.exists():
            print(f"note: {e}; keeping the shipped {shipped}", file=sys.stderr)
            return 0
        print(f"error: {e}", file=sys.stderr)
        return 2
    for key, n in counts.items():
        if n:
            print(f"  {key}: {n:,}")
    print(f"wrote {counts['tracks']:,} tracks and {counts['sessions']:,} sessions to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
