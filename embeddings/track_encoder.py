"""One vector per track: text descriptor + audio features + collaborative part.

    v(track) = normalise([ W_TEXT * t / |t|,  W_AUDIO * a / |a|,  W_COLLAB * c / |c| ])

- ``t``: all-MiniLM-L6-v2 embedding of "<subgenre> (<genre>), <mood words>, <era>" (the era left
  out when the year is unknown). It places related genres and moods near each other ("chillout"
  near "ambient"). Tracks share descriptors, so only the distinct ones are encoded (a few
  thousand for 100,000+ tracks); artists are kept close by the audio and collaborative parts.
- ``a``: the audio features standardised over the catalogue (energy, valence, danceability,
  acousticness, tempo, speechiness, instrumentalness). It separates tracks the text cannot:
  two alt-rock songs of very different energy.
- ``c``: an implicit-feedback factorisation of listening histories (the real playlists and CPCD
  liked sets, ``embeddings.histories.session_histories``) (truncated SVD of the
  positive PMI item-item co-occurrence matrix, as in item2vec/"neural word embedding as
  implicit matrix factorisation"), so tracks played by the same listeners lie close.
  Tracks nobody played get the mean vector of their subgenre.

Weights (squared weights are each part's share of the cosine): text 0.55, audio 0.55,
collaborative 0.63 -> shares 0.3 / 0.3 / 0.4. The collaborative part gets the largest share
because it is the only one that carries taste beyond the content labels, which the hard
constraints already enforce; text and audio keep content neighbours close for new tracks.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

AUDIO_FEATURES = ("energy", "valence", "danceability", "acousticness", "tempo", "speechiness",
                  "instrumentalness")
W_TEXT, W_AUDIO, W_COLLAB = 0.55, 0.55, 0.63
COLLAB_DIM = 32


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-9)).astype(np.float32)


def track_descriptor(row) -> str:
    from music_domain.attributes import display_genre

    energy = "upbeat energetic" if row["energy"] >= 0.6 else "laid back mellow"
    mood = "happy" if row["valence"] >= 0.55 else ("melancholic" if row["valence"] < 0.45 else "")
    acoustic = "acoustic" if row["acousticness"] >= 0.5 else ""
    words = " ".join(w for w in (energy, mood, acoustic) if w)
    era = "" if row["era"] == "unknown" else f", {row['era']}"
    return f"{display_genre(row['subgenre'])} ({row['genre']}), {words}{era}"


def text_matrix(catalog: pd.DataFrame) -> Tuple[np.ndarray, np.ndarray]:
    """(distinct descriptor vectors, each track's row in them)."""
    from embeddings.text_encoder import encode

    cols = ["subgenre", "genre", "energy", "valence", "acousticness", "era"]
    descriptors = [track_descriptor(dict(zip(cols, r))) for r in catalog[cols].itertuples(index=False)]
    codes, unique = pd.factorize(pd.Series(descriptors))
    return encode(list(unique)), codes.astype(np.int32)


def audio_matrix(catalog: pd.DataFrame) -> np.ndarray:
    x = catalog[list(AUDIO_FEATURES)].to_numpy(dtype=np.float64)
    x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    return x.astype(np.float32)


def collaborative_matrix(catalog: pd.DataFrame, histories: Optional[pd.DataFrame],
                         dim: int = COLLAB_DIM, seed: int = 0) -> np.ndarray:
    """Item factors from positive PMI of item co-occurrence within users' histories."""
    from sklearn.decomposition import TruncatedSVD

    n = len(catalog)
    out = np.zeros((n, dim), dtype=np.float32)
    if histories is None or histories.empty:
        return out
    row_of = pd.Series(np.arange(n), index=catalog["track_id"].to_numpy())
    h = histories[~histories["skipped"]]
    items = row_of.reindex(h["track_id"].to_numpy()).to_numpy()
    ok = ~np.isnan(items)
    users = pd.factorize(h["user_id"].to_numpy()[ok])[0]
    items = items[ok].astype(int)
    ui = sp.csr_matrix((np.ones(len(items), dtype=np.float32), (users, items)),
                       shape=(users.max() + 1, n))
    ui.data[:] = 1.0
    co = (ui.T @ ui).tocoo()
    counts = np.asarray(ui.sum(axis=0)).ravel()
    total = counts.sum()
    pmi = np.log(co.data * total / (counts[co.row] * counts[co.col] + 1e-9) + 1e-9)
    keep = (pmi > 0) & (co.row != co.col)
    ppmi = sp.csr_matrix((pmi[keep], (co.row[keep], co.col[keep])), shape=(n, n))
    k = min(dim, max(1, min(ppmi.shape) - 1))
    factors = TruncatedSVD(n_components=k, random_state=seed).fit_transform(ppmi)
    out[:, :k] = factors
    played = counts > 0
    # Unplayed tracks: mean factor of their subgenre's played tracks.
    sub = catalog["subgenre"].to_numpy()
    for s in np.unique(sub[~played]):
        donors = played & (sub == s)
        if donors.any():
            out[(~played) & (sub == s)] = out[donors].mean(axis=0)
    return out


def combine(text: np.ndarray, audio: np.ndarray, collab: np.ndarray) -> np.ndarray:
    parts = [W_TEXT * _unit(text), W_AUDIO * _unit(audio)]
    if np.abs(collab).sum() > 0:
        parts.append(W_COLLAB * _unit(collab))
    else:
        parts.append(np.zeros_like(collab))
    return _unit(np.hstack(parts))


def encode_tracks(catalog: pd.DataFrame, histories: Optional[pd.DataFrame] = None,
                  text: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """All parts and the combined vectors for a catalogue."""
    if text is None:
        unique, codes = text_matrix(catalog)
        text = unique[codes]
    audio = audio_matrix(catalog)
    collab = collaborative_matrix(catalog, histories)
    return {"text": text, "audio": audio, "collab": collab, "vectors": combine(text, audio, collab)}
