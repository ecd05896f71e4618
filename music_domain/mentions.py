"""Named artists and works (songs, albums) in real requests: the tagger and the catalogue lookup.

1. ``tokenize``: the text as MusicRecoNER preprocesses it (lower case, apostrophes and quotes
   dropped, other punctuation a separator), with every token's span in the original text, so
   "Radiohead's Kid A" gives ``radioheads``, ``kid``, ``a`` and the mention maps back to the
   listener's own words.
2. ``MentionTagger``: a linear-chain CRF (``sklearn-crfsuite``) over BIO tags ``Artist`` / ``WoA``,
   trained on the real Reddit requests of MusicRecoNER (Epure & Hennequin, EACL 2023; MIT). Its
   features are the words around a token, the token's shape and affixes, two gazetteers (artist
   names, work names: the catalogue's and public name lists), how often a word occurs in those
   lists, and MiniLM token states (projected, and through a linear probe), so the model learns
   how much a known name is worth in context ("rush" in "no rush" is not the band).
3. ``MentionResolver``: a mention against the catalogue, normalised ("CCR's" -> "ccr", "the")
   and fuzzy (``rapidfuzz``: "radioheads", typos). Returns the catalogue artist or track, or
   ``None``: a mention that matches nothing is reported as unknown, never silently matched.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
NER_DATA_DIR = ROOT / "rasa_project" / "data" / "music_ner"
TYPES = ("Artist", "WoA")
# The MiniLM layer whose token states the tagger reads: the last (6th). Middle layers were tried
# (`benchmarks/ner_cv.py --layers 3 4 5 6`, 3-fold cross-validation within the training requests):
# artist / work F1 layer 6 0.798 / 0.586, 5 0.802 / 0.613, 4 0.805 / 0.623, 3 0.817 / 0.606. But
# the held-out requests did not confirm layer 4 (`benchmarks/ner_benchmark.py --compare-layer 4`):
# artist F1 0.769 against 0.798, paired bootstrap difference -0.029 [-0.065, +0.003]; works 0.680
# against 0.655 [-0.019, +0.068]. So the last layer stays.
STATE_LAYER = 6
MAX_TEXT = 2000  # characters tagged; longer text is cut (the input guard handles it)
MAX_MENTION = 80  # characters; a longer "mention" is not a name

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[&$+@]", re.UNICODE)


@dataclass(frozen=True)
class Token:
    text: str  # normalised as in the corpus: lower case, apostrophes dropped
    start: int
    end: int


def tokenize(text: str) -> List[Token]:
    """Tokens with their spans in ``text``; "|"-like separators ("." "?" "!" ";") are dropped."""
    out = []
    for m in _TOKEN.finditer((text or "")[:MAX_TEXT]):
        norm = re.sub(r"['’]", "", m.group(0).lower())
        if norm:
            out.append(Token(norm, m.start(), m.end()))
    return out


def read_bio(path: Path) -> List[Tuple[List[str], List[str]]]:
    """[(tokens, tags)] from a CoNLL-style BIO file (token, tab, tag; blank line between queries)."""
    sents, toks, tags = [], [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            if toks:
                sents.append((toks, tags))
            toks, tags = [], []
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        toks.append(parts[0])
        tags.append(parts[-1])
    if toks:
        sents.append((toks, tags))
    return sents


def spans_of(tags: Sequence[str]) -> List[Tuple[str, int, int]]:
    """[(type, first token, last token + 1)] of a BIO tag sequence (an I- without B- starts one)."""
    out, cur = [], None
    for i, t in enumerate(list(tags) + ["O"]):
        if t.startswith("B-") or t == "O" or (t.startswith("I-") and (cur is None or cur[0] != t[2:])):
            if cur is not None:
                out.append((cur[0], cur[1], i))
                cur = None
            if t.startswith("B-") or t.startswith("I-"):
                cur = (t[2:], i)
    return out


# -- gazetteers ------------------------------------------------------------------------
def name_key(name: str) -> str:
    """A name as the tokenizer sees it: 'Guns N\\' Roses' -> 'guns n roses'."""
    return " ".join(t.text for t in tokenize(strip_accents(name)))


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


class Gazetteer:
    """Token sequences of known names (longest match first), as BIO-like tags per token."""

    def __init__(self, names: Iterable[str], max_len: int = 6):
        self.names = set()
        for n in names:
            k = name_key(str(n))
            if k and len(k) >= 2 and len(k.split()) <= max_len:
                self.names.add(k)
        self.max_len = max_len

    def tags(self, words: Sequence[str]) -> List[str]:
        out = ["O"] * len(words)
        i = 0
        while i < len(words):
            for n in range(min(self.max_len, len(words) - i), 0, -1):
                if " ".join(words[i:i + n]) in self.names:
                    out[i] = "B" if n > 1 else "S"
                    for j in range(i + 1, i + n):
                        out[j] = "I"
                    i += n
                    break
            else:
                i += 1
        return out


def _shape(w: str) -> str:
    s = re.sub(r"[a-z]+", "a", re.sub(r"[0-9]+", "0", w))
    return s[:4]


def _bin(count: int) -> int:
    """0, 1, 2-3, 4-15, 16-63, 64+ -> 0..5 (how often a word occurs in a name list)."""
    return 0 if count <= 0 else min(5, 1 + int(math.log(count, 4)) if count > 1 else 1)


def token_features(words: Sequence[str], gaz_artist: Sequence[str], gaz_work: Sequence[str],
                   common: frozenset, name_words=None) -> List[Dict[str, object]]:
    """``name_words``: (artist word counts, work word counts) over the gazetteers' names, so a
    word never seen in a request ("foals", "pickups") still says how name-like it is."""
    feats = []
    n = len(words)
    stats = []
    if name_words is not None:
        ca, cw = name_words
        stats = [(_bin(ca.get(w, 0)), _bin(cw.get(w, 0))) for w in words]
    for i, w in enumerate(words):
        f: Dict[str, object] = {
            "bias": 1.0, "w": w, "suf3": w[-3:], "pre3": w[:3], "shape": _shape(w), "len": min(len(w), 8),
            "common": w in common, "digit": w.isdigit(), "ascii": w.isascii(),
            "ga": gaz_artist[i], "gw": gaz_work[i],
            "bos": i == 0, "eos": i == n - 1,
        }
        for d in (-3, -2, -1, 1, 2, 3):
            j = i + d
            if 0 <= j < n:
                f[f"w{d:+d}"] = words[j]
                if abs(d) <= 2:
                    f[f"ga{d:+d}"] = gaz_artist[j]
                    f[f"gw{d:+d}"] = gaz_work[j]
                    f[f"common{d:+d}"] = words[j] in common
            else:
                f[f"w{d:+d}"] = "<pad>"
        if stats:
            a, b = stats[i]
            f["na"], f["nw"], f["na-nw"] = a, b, a - b
            for d in (-1, 1):
                if 0 <= i + d < n:
                    f[f"na{d:+d}"], f[f"nw{d:+d}"] = stats[i + d]
        if i > 0:
            f["w-1|w"] = words[i - 1] + "|" + w
        if i > 1:
            f["w-2|w-1"] = words[i - 2] + "|" + words[i - 1]
        if i < n - 1:
            f["w|w+1"] = w + "|" + words[i + 1]
        if i < n - 2:
            f["w+1|w+2"] = words[i + 1] + "|" + words[i + 2]
        feats.append(f)
    return feats


def common_words() -> frozenset:
    """Common English words (the input guard's list), a sign a token is not a name."""
    try:
        from nlu_components.input_guard import english_words

        return english_words()
    except Exception:  # noqa: BLE001 - the feature is optional
        return frozenset()


def token_vectors(tokens: Sequence[Token], hidden, offsets):
    """Per token, the mean MiniLM state of the word pieces overlapping its span ([n, d])."""
    import numpy as np

    hidden = np.asarray(hidden)
    offsets = np.asarray(offsets)
    out = np.zeros((len(tokens), hidden.shape[-1]), dtype=np.float32)
    valid = offsets[:, 1] > offsets[:, 0]
    for i, t in enumerate(tokens):
        m = valid & (offsets[:, 0] < t.end) & (offsets[:, 1] > t.start)
        if m.any():
            out[i] = hidden[m].mean(axis=0)
    return out


def minilm_states(texts: Sequence[str], layer: int = STATE_LAYER):
    """[(states [pieces, d], offsets [pieces, 2])] of MiniLM's ``layer`` for each text (padding
    removed)."""
    from embeddings.text_encoder import embed_with_tokens

    out = []
    for i in range(0, len(texts), 32):
        _, _, offsets, attn, states = embed_with_tokens(list(texts[i:i + 32]), layer=layer)
        for j in range(len(texts[i:i + 32])):
            keep = attn[j] == 1
            out.append((states[j][keep], offsets[j][keep]))
    return out


def corpus_vectors(sentences: Sequence[Sequence[str]], layer: int = STATE_LAYER):
    """MiniLM token vectors of ``layer`` ([n, d] each) for corpus sentences (tokens joined by spaces)."""
    texts = [" ".join(w) for w in sentences]
    out = []
    for words, (hidden, offsets) in zip(sentences, minilm_states(texts, layer)):
        tokens, pos = [], 0
        for w in words:
            tokens.append(Token(w, pos, pos + len(w)))
            pos += len(w) + 1
        out.append(token_vectors(tokens, hidden, offsets))
    return out


class MentionTagger:
    """A CRF over BIO tags for ``Artist`` and ``WoA``: lexical, gazetteer and MiniLM features.

    The MiniLM token states (of ``layer``, from the same all-MiniLM-L6-v2 pass the featurizer
    already makes for DIET, so tagging costs no second transformer pass) are projected on their
    ``dims`` leading principal directions, fitted on the training queries; and (``probe``) a logistic-regression
    probe on all their dimensions gives per-token tag probabilities, fitted out of fold for the
    CRF's own training requests. How often a word occurs in the artist / work name lists
    (``name_words``) tells how name-like an unseen word is. Training adds ``augment`` copies of
    each request with its names swapped for random names of the same type from the name lists
    (mention replacement), so the CRF learns the contexts and the look of names rather than the
    names it saw. These settings were chosen by two-fold cross-validation within the training
    requests (``benchmarks/ner_benchmark.py`` reports the held-out figures)."""

    def __init__(self, artist_names: Iterable[str] = (), work_names: Iterable[str] = (), dims: int = 32,
                 c1: float = 0.05, c2: float = 0.05, max_iterations: int = 150, name_words: bool = True,
                 augment: int = 2, seed: int = 0, probe: bool = True, probe_c: float = 0.5,
                 layer: int = STATE_LAYER):
        self.gaz_artist = Gazetteer(artist_names)
        self.gaz_work = Gazetteer(work_names)
        self.name_words = None
        if name_words:  # how often each word occurs in the artist / work name lists
            from collections import Counter

            self.name_words = tuple(Counter(w for name in g.names for w in set(name.split()))
                                    for g in (self.gaz_artist, self.gaz_work))
        self.dims = dims
        self.layer = layer  # MiniLM layer of the token states (0-6)
        self.augment = augment  # copies of each request with its names swapped for other known names
        self.seed = seed
        self.probe = probe  # a linear probe on the full MiniLM states, its tag probabilities as features
        self.probe_c = probe_c
        self.probe_model = None
        self.params = {"c1": c1, "c2": c2, "max_iterations": max_iterations}
        self.crf = None
        self.projection = None  # (mean [d], components [dims, d], scale)
        self._common = None

    @classmethod
    def with_gazetteers(cls, catalog=None, directory: Path = NER_DATA_DIR, **kwargs) -> "MentionTagger":
        """Gazetteers: the catalogue's artists and tracks plus the shipped name lists."""
        artists, works = [], []
        if catalog is not None:
            artists += list(catalog["artist_name"].unique())
            works += list(catalog["track_name"].unique())
        for name, target in (("gazetteer_artists.txt", artists), ("gazetteer_works.txt", works)):
            path = Path(directory) / name
            if path.exists():
                target += path.read_text(encoding="utf-8").splitlines()
        return cls(artists, works, **kwargs)

    @property
    def common(self) -> frozenset:
        if self._common is None:
            self._common = common_words()
        return self._common

    def __getstate__(self):
        d = dict(self.__dict__)
        d["_common"] = None
        return d

    def features(self, words: Sequence[str], vectors=None, probs=None):
        feats = token_features(words, self.gaz_artist.tags(words), self.gaz_work.tags(words), self.common,
                               getattr(self, "name_words", None))
        if probs is None and vectors is not None and getattr(self, "probe_model", None) is not None:
            probs = self.probe_probs(vectors)
        if probs is not None:
            labels = self.probe_labels()[:4]
            for i, f in enumerate(feats):
                for d in (-1, 0, 1):
                    if 0 <= i + d < len(feats):
                        for j, lab in enumerate(labels):
                            f[f"p{d:+d}{lab}"] = float(probs[i + d][j])
        if vectors is not None and self.projection is not None:
            mean, comps, scale = self.projection
            z = (vectors - mean) @ comps.T / scale
            for i, f in enumerate(feats):
                for k in range(z.shape[1]):
                    f[f"e{k}"] = float(z[i, k])
        return feats

    @property
    def state_layer(self) -> int:
        return getattr(self, "layer", 6)  # taggers pickled before the layer was a setting read the last

    def sentence_vectors(self, sentences: Sequence[Sequence[str]]):
        """MiniLM token vectors of the tagger's layer for corpus sentences."""
        return corpus_vectors(sentences, self.state_layer)

    def fit(self, sentences: Sequence[Tuple[List[str], List[str]]], vectors=None) -> "MentionTagger":
        import numpy as np
        import sklearn_crfsuite

        sentences = [(w, t) for w, t in sentences if w]
        copies = getattr(self, "augment", 0)
        if copies:
            extra = augment_sentences(sentences, sorted(self.gaz_artist.names), sorted(self.gaz_work.names),
                                      copies=copies, seed=getattr(self, "seed", 0))
            if self.dims:
                vectors = list(vectors if vectors is not None else self.sentence_vectors([w for w, _ in sentences]))
                vectors += self.sentence_vectors([w for w, _ in extra])
            sentences = list(sentences) + extra
        if self.dims:
            vectors = vectors if vectors is not None else self.sentence_vectors([w for w, _ in sentences])
            allv = np.vstack(vectors)
            mean = allv.mean(axis=0)
            _, _, vt = np.linalg.svd(allv[::3] - mean, full_matrices=False)
            scale = float(np.abs(allv[:2000] - mean).mean()) or 1.0
            self.projection = (mean.astype(np.float32), vt[:self.dims].astype(np.float32), scale)
        else:
            vectors = [None] * len(sentences)
        probs = [None] * len(sentences)
        if self.dims and getattr(self, "probe", False):
            probs = self._fit_probe(vectors, [t for _, t in sentences])
        self.crf = sklearn_crfsuite.CRF(algorithm="lbfgs", all_possible_transitions=True, **self.params)
        self.crf.fit([self.features(w, v, p) for (w, _), v, p in zip(sentences, vectors, probs)],
                     [t for _, t in sentences])
        return self

    def _fit_probe(self, vectors, tags, folds: int = 3):
        """A linear probe on the full MiniLM token states (all dimensions, not the projection):
        per-token tag probabilities, fitted out of fold for the CRF's training requests (so the
        CRF learns how far to trust them) and on all of them for use."""
        import numpy as np
        from sklearn.linear_model import LogisticRegression

        lengths = [len(v) for v in vectors]
        X = self._probe_input(np.vstack(vectors))
        y = np.array([t for ts in tags for t in ts])
        sent = np.repeat(np.arange(len(vectors)), lengths)
        out = np.zeros((len(y), len(self.probe_labels(y))), dtype=np.float32)
        labels = self.probe_labels(y)
        for k in range(folds):
            test = sent % folds == k
            m = self._new_probe().fit(X[~test], y[~test])
            out[np.ix_(test, [labels.index(c) for c in m.classes_])] = m.predict_proba(X[test])
        self.probe_model = self._new_probe().fit(X, y)
        bounds = np.cumsum([0] + lengths)
        return [out[a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def _new_probe(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.probe_c, max_iter=200)

    @staticmethod
    def probe_labels(y=None):
        return ["B-Artist", "I-Artist", "B-WoA", "I-WoA", "O"]

    def _probe_input(self, v):
        mean, _, scale = self.projection
        return (v - mean) / scale

    def probe_probs(self, vectors):
        """Tag probabilities of the probe, columns in ``probe_labels()`` order (or None)."""
        import numpy as np

        model = getattr(self, "probe_model", None)
        if model is None or vectors is None or not len(vectors):
            return None
        p = model.predict_proba(self._probe_input(np.asarray(vectors)))
        out = np.zeros((len(vectors), 5), dtype=np.float32)
        labels = self.probe_labels()
        for j, c in enumerate(model.classes_):
            out[:, labels.index(c)] = p[:, j]
        return out

    def tag_words(self, words: Sequence[str], vectors=None) -> List[str]:
        if not words or self.crf is None:
            return ["O"] * len(words)
        if vectors is None and self.projection is not None:
            vectors = self.sentence_vectors([words])[0]
        return list(self.crf.predict_single(self.features(words, vectors)))

    def mentions(self, text: str, states=None) -> List[Dict[str, object]]:
        """[{type, text, start, end, confidence}] in ``text``'s own characters. ``states``:
        (hidden, offsets, layer) of MiniLM over ``text`` if already computed (the featurizer's);
        states of another layer than the tagger's are not used."""
        tokens = tokenize(text)
        if not tokens or self.crf is None:
            return []
        words = [t.text for t in tokens]
        vectors = None
        if self.projection is not None:
            if states is None or len(states) != 3 or states[2] != self.state_layer:
                states = minilm_states([text[:MAX_TEXT]], self.state_layer)[0] + (self.state_layer,)
            hidden, offsets, _ = states
            vectors = token_vectors(tokens, hidden, offsets)
        feats = self.features(words, vectors)
        tags = self.crf.predict_single(feats)
        marginals = self.crf.predict_marginals_single(feats)
        out = []
        for kind, a, b in spans_of(tags):
            start, end = tokens[a].start, tokens[b - 1].end
            if end - start > MAX_MENTION:
                continue
            conf = min(marginals[i].get(tags[i], 0.0) for i in range(a, b))
            out.append({"type": kind, "text": text[start:end], "start": start, "end": end,
                        "confidence": round(float(conf), 3)})
        return out


def augment_sentences(sentences, artist_names: Sequence[str], work_names: Sequence[str], copies: int = 1,
                      seed: int = 0) -> List[Tuple[List[str], List[str]]]:
    """Mention replacement: ``copies`` of each request that names something, every artist / work
    replaced by a random name of the same type from the name lists (tags follow), so the tagger
    learns the contexts and the look of names rather than the few names it was trained on."""
    import random

    rng = random.Random(seed)
    pools = {"Artist": list(artist_names), "WoA": list(work_names)}
    out = []
    for words, tags in sentences:
        spans = spans_of(tags)
        if not spans or not all(pools.get(k) for k, _, _ in spans):
            continue
        for _ in range(copies):
            new_w, new_t, pos = [], [], 0
            for kind, a, b in spans:
                new_w += words[pos:a]
                new_t += tags[pos:a]
                name = rng.choice(pools[kind]).split()
                new_w += name
                new_t += [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
                pos = b
            new_w += words[pos:]
            new_t += tags[pos:]
            out.append((new_w, new_t))
    return out


def load_training_sentences(directory: Path = NER_DATA_DIR, parts: Sequence[str] = ("train",)):
    return [s for p in parts for s in read_bio(Path(directory) / f"{p}.bio")]


# -- resolution against the catalogue ------------------------------------------------------
_LEADING = re.compile(r"^(the|a|an)\s+")
# popularity points (0-100) by which a title must outdo an artist of the same name to be meant,
# and the popularity of an artist's best-known track from which their name always means them
# (about the catalogue's best-known third of artists: "something like Kenny G" is Kenny G, 55,
# not Matuê's song "Kenny G", 79)
TITLE_OVER_ARTIST = 15.0
KNOWN_ARTIST = 50.0


def resolve_key(name: str) -> str:
    """Normalised for matching: accents, case, apostrophes, a possessive or plural 's', 'the'."""
    k = name_key(name)
    k = _LEADING.sub("", k)
    return k


@dataclass
class Resolution:
    kind: str  # "artist" | "work"
    mention: str
    value: Optional[str]  # catalogue artist name, or track name
    artist: Optional[str]  # the work's artist (for a work), or the artist
    row: Optional[int]  # a catalogue row for a work
    score: float  # 0-100 match score; 0 when unresolved

    @property
    def resolved(self) -> bool:
        return self.value is not None


class MentionResolver:
    """Catalogue artists and tracks by normalised and fuzzy name.

    A mention resolves when its normalised form equals a name's, or does with a final "s"
    dropped or added ("radioheads", "ccrs"), or when the fuzzy ratio (``rapidfuzz``) to a
    name is at least ``threshold`` (typos: "radiohaed"). Mentions under 4 characters resolve only
    exactly, and a fuzzy match must keep the first letter and about the length ("Rush" is not
    "Crush").
    """

    def __init__(self, artists: Sequence[str], tracks: Sequence[Tuple[str, str]] = (), threshold: float = 85.0,
                 popularity: Optional[Sequence[float]] = None):
        self.threshold = threshold
        # each track's popularity (aligned with ``tracks``): a title several artists recorded is
        # the most popular artist's song ("blinding lights" is The Weeknd's, not All Time Low's)
        self._popularity = None if popularity is None else [float(p) if p == p else 0.0 for p in popularity]
        self._artists: Dict[str, str] = {}
        for a in artists:
            k = resolve_key(str(a))
            if k:
                self._artists.setdefault(k, str(a))
        self._tracks: Dict[str, List[Tuple[str, str, int]]] = {}
        for row, (name, artist) in enumerate(tracks):
            k = resolve_key(_clean_title(str(name)))
            if k:
                self._tracks.setdefault(k, []).append((str(name), str(artist), row))
        self._artist_keys = list(self._artists)
        self._track_keys = list(self._tracks)
        # each artist's best-known track's popularity (``title_over_artist``)
        self._artist_popularity: Dict[str, float] = {}
        if self._popularity is not None:
            for (_, artist), pop in zip(tracks, self._popularity):
                a = str(artist)
                self._artist_popularity[a] = max(self._artist_popularity.get(a, 0.0), pop)

    @classmethod
    def from_catalog(cls, catalog) -> "MentionResolver":
        return cls(list(catalog["artist_name"]), list(zip(catalog["track_name"], catalog["artist_name"])),
                   popularity=list(catalog["popularity"]) if "popularity" in catalog else None)

    def _lookup(self, key: str, table: Dict[str, object], keys: List[str]):
        if not key:
            return None, 0.0
        for k in (key, key[:-1] if key.endswith("s") else None, key + "s"):
            if k and k in table:
                return table[k], 100.0
        if len(key) < 5:
            return None, 0.0
        from rapidfuzz import fuzz, process

        # A typo keeps the first letter and about the length: "Rush" is not "Crush".
        for name, score, _ in process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=self.threshold, limit=5):
            if name[0] == key[0] and abs(len(name) - len(key)) <= 2:
                return table[name], float(score)
        return None, 0.0

    def exact_artist(self, name: str) -> Optional[str]:
        """The catalogue artist whose normalised name is ``name``'s, without the plural, possessive
        or fuzzy readings of ``artist`` ("classics" is not "Classic"), or None."""
        if not name or len(name) > MAX_MENTION:
            return None
        return self._artists.get(resolve_key(name))

    def exact_work(self, name: str, by: Optional[str] = None) -> Resolution:
        """The catalogue track whose normalised title is ``name``'s, with no plural or fuzzy reading
        (a dictionary lookup, cheap enough for every message); with ``by`` (a catalogue artist)
        only that artist's tracks count; unresolved when there is none."""
        hits = self._tracks.get(resolve_key(_clean_title(name))) if name and len(name) <= MAX_MENTION else None
        hits = [h for h in (hits or []) if by is None or h[1] == by]
        if not hits:
            return Resolution("work", name or "", None, None, None, 0.0)
        return Resolution("work", name, *self._best(hits), 100.0)

    def title_over_artist(self, name: str) -> Optional[Resolution]:
        """The song meant when ``name`` is exactly both a catalogue artist's name and a title, and
        the title's best-known track is far better known (by ``TITLE_OVER_ARTIST`` popularity
        points) than anything of that little-known artist (under ``KNOWN_ARTIST``): "something like
        take five" is Dave Brubeck's Take Five (popularity 66), not the hip-hop act Take/Five (44);
        "Genesis", "Boston", "Blondie" and "Kenny G" stay the artists. None otherwise, and when
        popularity is unknown."""
        if not name or len(name) > MAX_MENTION or self._popularity is None:
            return None
        artist = self._artists.get(resolve_key(name))
        hits = self._tracks.get(resolve_key(_clean_title(name)))
        if artist is None or not hits:
            return None
        title, by, row = self._best(hits)
        known = self._artist_popularity.get(artist, 0.0)
        if by == artist or known >= KNOWN_ARTIST or self._popularity[row] - known < TITLE_OVER_ARTIST:
            return None
        return Resolution("work", name, title, by, row, 100.0)

    def artist(self, mention: str) -> Resolution:
        if not mention or len(mention) > MAX_MENTION:
            return Resolution("artist", mention or "", None, None, None, 0.0)
        value, score = self._lookup(resolve_key(mention), self._artists, self._artist_keys)
        return Resolution("artist", mention, value, value, None, score)

    def work(self, mention: str, by: Optional[str] = None) -> Resolution:
        """A catalogue track; with ``by`` (a catalogue artist) only that artist's tracks count."""
        if not mention or len(mention) > MAX_MENTION:
            return Resolution("work", mention or "", None, None, None, 0.0)
        hits, score = self._lookup(resolve_key(_clean_title(mention)), self._tracks, self._track_keys)
        hits = [h for h in (hits or []) if by is None or h[1] == by]
        if not hits:
            return Resolution("work", mention, None, None, None, 0.0)
        return Resolution("work", mention, *self._best(hits), score)

    def _best(self, hits: Sequence[Tuple[str, str, int]]) -> Tuple[str, str, int]:
        """Of the tracks with one title, the one meant: the most popular artist's (when
        popularity is known), and of theirs the plain title before a remix, live take or remaster."""
        if self._popularity is not None:
            top = max(hits, key=lambda h: self._popularity[h[2]])
            hits = [h for h in hits if h[1] == top[1]]
            # no plain title: the best-known take ("Happy - From Despicable Me 2", not "- Live at ...")
            return min(hits, key=lambda h: (_clean_title(h[0]) != h[0].strip(), -self._popularity[h[2]], len(h[0])))
        return _plainest(hits)


def _plainest(hits: Sequence[Tuple[str, str, int]]) -> Tuple[str, str, int]:
    """(title, artist, row) of the plain title among tracks of one name, before a remix, live take
    or remaster of it."""
    return min(hits, key=lambda h: (_clean_title(h[0]) != h[0].strip(), len(h[0])))


def _clean_title(title: str) -> str:
    """'Song - Remastered 2011' / 'Song (feat. X)' -> 'Song'."""
    t = re.sub(r"\s*[\(\[].*?[\)\]]", "", title)
    t = re.sub(r"\s+-\s+.*$", "", t)
    return t.strip() or title


# -- artists the catalogue lacks: their vein ---------------------------------------------------
VEINS_FILE = NER_DATA_DIR / "artist_genres.tsv"


@lru_cache(maxsize=2)
def artist_veins(path: Path = VEINS_FILE) -> Dict[str, str]:
    """Artist (``resolve_key``) -> genre family, from ``tools/make_gazetteer.py`` (public track
    lists, not the catalogue); empty when the file is missing."""
    out: Dict[str, str] = {}
    try:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            key, _, family = line.partition("\t")
            if key and family:
                out[key] = family
    except OSError:
        pass
    return out


def infer_vein(name: str) -> Optional[str]:
    """The genre family of a named artist the catalogue lacks ("Aphex Twin" -> chill), by exact
    normalised name (a possessive or plural "s" tolerated), or None: no guess from a fuzzy
    match, so an unknown name never borrows a stranger's genre."""
    if not name or len(name) > MAX_MENTION:
        return None
    key = resolve_key(name)
    veins = artist_veins()
    for k in (key, key[:-1] if key.endswith("s") else None):
        if k and k in veins:
            return veins[k]
    return None


def unknown_reply(entities, have_attributes: Optional[bool] = None, playing: bool = True) -> Optional[str]:
    """What to say about named artists or works the catalogue does not have (``unknown_mention``
    entities), or None. When their vein (``vein``, a genre family) or other attributes in the same
    message are known, the assistant plays something in that vein (``playing``) or says it will
    look there; otherwise it says it cannot match the name and the next prompt asks."""
    names, veins = [], []
    for e in entities or []:
        if e.get("entity") == "unknown_mention" and e.get("value"):
            name = str(e["value"]).strip()[:MAX_MENTION]
            if name and name.lower() not in (n.lower() for n in names):
                names.append(name)
            if e.get("vein") and e["vein"] not in veins:
                veins.append(str(e["vein"]))
    if not names:
        return None
    if have_attributes is None:
        have_attributes = any(e.get("entity") in ("genre", "subgenre", "energy", "mood", "era", "activity",
                                                  "artist", "work") for e in entities or [])
    said = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    if veins and not have_attributes:
        from music_domain.attributes import display_genre

        vein = " and ".join(display_genre(v) for v in veins[:2])
        if playing:
            return f"I don't have {said} in my catalogue, so here's something in the same vein ({vein})."
        return f"I don't have {said} in my catalogue, so I'll look for something in the same vein ({vein})."
    if have_attributes or veins:
        if playing:
            return f"I don't have {said} in my catalogue, so here's something in the same vein as the rest of what you asked."
        return f"I don't have {said} in my catalogue, so I'll go by the rest of what you asked."
    return f"I don't have {said} in my catalogue, so I can't match that directly."
