"""The open catalogue: openly licensed clips trimmed to previews that voice channels can play.

Each clip in ``audio_previews/`` (an audio file with a ``.txt`` attribution note beside it, and a
row in that folder's README table giving its genre) becomes

- ``data/audio/<track_id>.mp3``: the first ``PREVIEW_SECONDS`` with a short fade-out, MP3 at 48 kbit/s,
  24,000 Hz mono: what Alexa's SSML ``<audio>`` requires (MPEG-2 MP3, 48 kbps, 16,000/22,050/24,000
  Hz, at most 240 s), and Twilio's ``<Play>`` accepts;
- a catalogue row (``OPEN_TRACKS``) with ``preview_url`` ``audio/<track_id>.mp3`` (relative: the
  server that serves it prefixes its base URL, ``channels.audio``), ``preview_seconds`` and the
  ``attribution`` CC BY requires ("Vibe Ace by Kevin MacLeod, CC BY 3.0, shortened").

The clips carry no Spotify audio features, so they get their subgenre's median features and
popularity in the catalogue, marked ``features_estimated``.

Decoding and encoding go through pydub with the ffmpeg binary of the ``imageio-ffmpeg`` wheel (no
system ffmpeg needed; ffmpeg decodes to WAV, pydub trims, fades, resamples and encodes). A clip that cannot be decoded is skipped with a warning.
"""
from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import pandas as pd

from music_domain.catalog import PROJECT_ROOT

logger = logging.getLogger(__name__)

AUDIO_DIR = PROJECT_ROOT / "data" / "audio"
OPEN_TRACKS = PROJECT_ROOT / "data" / "catalog" / "open_tracks.csv"
PREVIEW_SECONDS = 30
BITRATE_KBPS = 48
SAMPLE_RATE = 24_000
AUDIO_SUFFIXES = (".ogg", ".mp3", ".wav", ".flac", ".m4a")


def audio_segment():
    """pydub's AudioSegment, wired to imageio-ffmpeg's binary (pydub warns at import when no
    ffmpeg is on PATH; that warning is about the PATH lookup we replace, so it is silenced here)."""
    import imageio_ffmpeg

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Couldn't find ffmpeg or avconv", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Couldn't find ffprobe or avprobe", category=RuntimeWarning)
        from pydub import AudioSegment
    AudioSegment.converter = imageio_ffmpeg.get_ffmpeg_exe()
    return AudioSegment


def decode(source: Path):
    """An AudioSegment of any file ffmpeg reads. ffmpeg decodes it to WAV (pydub's own ``from_file``
    would need ffprobe, which the wheel lacks); ``ValueError`` when it cannot."""
    import io
    import subprocess

    AudioSegment = audio_segment()
    from pydub.exceptions import CouldntDecodeError

    run = subprocess.run([AudioSegment.converter, "-v", "error", "-nostdin", "-i", str(source), "-f", "wav", "-"],
                         capture_output=True, timeout=120)
    if run.returncode != 0 or not run.stdout:
        reason = run.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ValueError(f"{source.name}: cannot be decoded as audio ({(reason or ['no audio'])[-1][:160]})")
    try:
        return AudioSegment.from_wav(io.BytesIO(run.stdout))
    except (CouldntDecodeError, IndexError, ValueError) as e:
        raise ValueError(f"{source.name}: cannot be decoded as audio ({e})") from e


def to_preview(source: Path, target: Path, seconds: int = PREVIEW_SECONDS) -> float:
    """Trim ``source`` to its first ``seconds`` (fade-out 1.5 s) and write a 48 kbit/s 24 kHz mono MP3.
    Returns the preview's length in seconds. Raises ``ValueError`` for audio that cannot be decoded."""
    clip = decode(source)
    if len(clip) < 1000:
        raise ValueError(f"{source.name}: shorter than a second")
    clip = clip[: seconds * 1000].fade_out(1500).set_channels(1).set_frame_rate(SAMPLE_RATE)
    target.parent.mkdir(parents=True, exist_ok=True)
    clip.export(str(target), format="mp3", bitrate=f"{BITRATE_KBPS}k",
                parameters=["-ar", str(SAMPLE_RATE), "-ac", "1", "-map_metadata", "-1"])
    return round(len(clip) / 1000.0, 1)


def read_attribution(note: Path) -> Dict[str, str]:
    """Title, artist, licence and source URL from a clip's attribution note."""
    lines = [line.strip() for line in note.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{note.name}: empty attribution note")
    m = re.match(r"(?P<work>.+?) is (?:licensed under|in the Public Domain)", lines[0])
    work = m.group("work") if m else lines[0]
    title, _, artist = work.rpartition(" by ")
    licence = "public domain" if re.search(r"public domain", " ".join(lines), re.I) else None
    url = next((w for line in lines for w in line.split() if w.startswith("http") and "licenses" not in w
                and "publicdomain" not in w), "")
    lic = next((w for line in lines for w in line.split() if "creativecommons.org/licenses/" in w), "")
    if not licence and lic:
        kind = re.search(r"/licenses/([a-z-]+)/([\d.]+)", lic)
        licence = f"CC {kind.group(1).upper()} {kind.group(2)}" if kind else "CC BY"
    return {"track_name": title.strip() or work, "artist_name": artist.strip() or "unknown artist",
            "licence": licence or "see source", "source_url": url}


def readme_genres(folder: Path) -> Dict[str, str]:
    """file name -> genre, from the folder README's table (``| `file` | title | genre | ...``)."""
    readme = folder / "README.md"
    out: Dict[str, str] = {}
    if readme.exists():
        for line in readme.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and cells[0].startswith("`"):
                out[cells[0].strip("`")] = cells[2].lower()
    return out


def track_id_of(stem: str) -> str:
    return "open-" + re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60]


def build_open_catalog(folder: Path, catalog: Optional[pd.DataFrame] = None,
                       audio_dir: Path = AUDIO_DIR, out_csv: Path = OPEN_TRACKS) -> Dict[str, int]:
    """Convert every clip in ``folder`` and write the open catalogue; returns counts."""
    from music_domain.real_catalog import SourceMissing

    folder = Path(folder)
    if not folder.is_dir():
        raise SourceMissing(f"data folder not found: {folder} (the openly licensed clips)")
    genres = readme_genres(folder)
    rows: List[dict] = []
    skipped = 0
    for source in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
        note = source.with_suffix(".txt")
        if not note.exists():
            logger.warning("skipping %s: no attribution note %s beside it", source.name, note.name)
            skipped += 1
            continue
        tid = track_id_of(source.stem)
        try:
            seconds = to_preview(source, audio_dir / f"{tid}.mp3")
        except ValueError as e:
            logger.warning("skipping %s", e)
            skipped += 1
            continue
        info = read_attribution(note)
        sub = genres.get(source.name, "other")
        attribution = f"{info['track_name']} by {info['artist_name']}, {info['licence']}"
        if info["licence"].startswith("CC"):
            attribution += ", shortened"
        rows.append({"track_id": tid, **info, "subgenre": sub, "preview_url": f"audio/{tid}.mp3",
                     "preview_seconds": seconds, "attribution": attribution})
    frame = pd.DataFrame(rows)
    if len(frame) and catalog is not None:
        frame = estimate_features(frame, catalog)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False)
    return {"open clips converted": len(frame), "open clips skipped": skipped}


def estimate_features(frame: pd.DataFrame, catalog: pd.DataFrame) -> pd.DataFrame:
    """The subgenre's median audio features and popularity (the clips have no Spotify analysis)."""
    from music_domain.attributes import SUBGENRE_TO_FAMILY
    from music_domain.real_catalog import FEATURES

    cols = [*FEATURES, "popularity", "duration_ms"]
    music = catalog[catalog["content"] == "music"]
    med = music.groupby("subgenre")[cols].median()
    overall = music[cols].median()
    est = pd.DataFrame([med.loc[s] if s in med.index else overall for s in frame["subgenre"]]).reset_index(drop=True)
    frame = pd.concat([frame.reset_index(drop=True), est], axis=1)
    frame["genre"] = frame["subgenre"].map(lambda g: SUBGENRE_TO_FAMILY.get(g, "other"))
    frame["content"] = "music"
    frame["source"] = "audio_previews"
    frame["features_estimated"] = True
    frame[cols] = frame[cols].round(4)
    return frame
