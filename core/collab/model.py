"""LightFM hybrid model: playlist/user interactions plus track metadata features.

Items are described by metadata features (artists, genre, decade, explicit, popularity bucket,
quantile-binned audio features) so a track nobody has played yet still gets a score from the
features it shares with played ones (cold start). Only items seen in training get an identity
feature: WARP samples every catalog item as a negative, so an identity embedding of a cold item
would only ever be pushed down and bury it.

The artefact is one compressed ``.npz`` (no pickle: loading a model must not execute code),
written to a temp file and renamed, then published through a ``latest`` pointer file that is
replaced atomically too. A crash at any point leaves the previous model served.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.version import __version__ as LIGHTFM_VERSION

from core.files import atomic_write
from schemas.tracks import Track

__all__ = [
    "AUDIO_BINNED",
    "DEFAULT_FEATURE_WEIGHTS",
    "FEATURE_GROUPS",
    "FORMAT_VERSION",
    "LATEST",
    "CollaborativeModel",
    "Featurizer",
    "ModelArtefactError",
    "UnknownUserError",
    "load",
    "load_latest",
    "train",
]

FORMAT_VERSION = 1
LATEST = "latest"
FEATURE_GROUPS: tuple[str, ...] = ("artist", "genre", "decade", "explicit", "popularity", "audio")
# Relative weight of one feature of each group in an item's row (rows are then normalized).
# Broad features (a decade, an audio quintile: thousands of tracks each) get small weights: at
# equal weight they dominate the representation and make every track look alike, which cut
# top-10 precision by about a third in scripts/eval_collaborative.py; they stay because they
# are the only signal for a cold track by an unseen artist. "audio" is per binned feature.
# Genre could not be validated there (the evaluation data's genre is playlist-derived).
DEFAULT_FEATURE_WEIGHTS: dict[str, float] = {
    "identity": 1.0,
    "artist": 1.0,
    "genre": 0.1,
    "decade": 0.05,
    "explicit": 0.05,
    "popularity": 0.05,
    "audio": 0.02,
}
AUDIO_BINNED: tuple[str, ...] = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "tempo",
    "speechiness",
    "instrumentalness",
)
AUDIO_BINS = 5


class UnknownUserError(KeyError):
    """The user has no interactions in the model: callers fall back to content-only ranking."""


class ModelArtefactError(RuntimeError):
    """An artefact is unreadable or of an unknown format version."""


@dataclass(frozen=True)
class Featurizer:
    """Track → feature names, with audio bin edges fitted on the training catalog.

    Kept in the artefact so tracks added to the catalog after training can be featurized the
    same way (`CollaborativeModel.score_tracks`).
    """

    weights: dict[str, float]
    audio_edges: dict[str, list[float]]

    @classmethod
    def fit(cls, tracks: Sequence[Track], weights: Mapping[str, float]) -> Featurizer:
        unknown = set(weights) - {"identity", *FEATURE_GROUPS}
        if unknown:
            raise ValueError(
                f"unknown feature groups {sorted(unknown)}; known: identity, {FEATURE_GROUPS}"
            )
        if any(not math.isfinite(w) or w < 0 for w in weights.values()):
            raise ValueError(f"feature weights must be finite and >= 0: {dict(weights)}")
        used = {g: float(w) for g, w in weights.items() if w > 0}
        edges: dict[str, list[float]] = {}
        if "audio" in used:
            quantiles = np.linspace(0, 1, AUDIO_BINS + 1)[1:-1]
            for name in AUDIO_BINNED:
                values = np.array(
                    [t.audio[name] for t in tracks if t.audio and name in t.audio], dtype=float
                )
                if values.size:
                    edges[name] = np.unique(np.quantile(values, quantiles)).tolist()
        return cls(used, edges)

    @property
    def identity_weight(self) -> float:
        return self.weights.get("identity", 0.0)

    def features(self, track: Track) -> list[tuple[str, float]]:
        """(feature name, weight) pairs of the track's metadata (identity excluded)."""
        names: list[tuple[str, str]] = []
        if "artist" in self.weights:
            names += [("artist", f"artist:{a.strip().lower()}") for a in track.artists if a.strip()]
        if "genre" in self.weights and track.genre:
            names.append(("genre", f"genre:{track.genre.strip().lower()}"))
        if "decade" in self.weights and track.year:
            names.append(("decade", f"decade:{track.year // 10 * 10}"))
        if "explicit" in self.weights and track.explicit is not None:
            names.append(("explicit", f"explicit:{int(track.explicit)}"))
        if "popularity" in self.weights and track.popularity is not None:
            names.append(("popularity", f"popularity:{min(max(track.popularity, 0), 100) // 10}"))
        if track.audio:
            for name, edges in self.audio_edges.items():
                value = track.audio.get(name)
                if value is not None and math.isfinite(value):
                    bin_ = int(np.searchsorted(edges, value, side="right"))
                    names.append(("audio", f"{name}:q{bin_}"))
        return [(name, self.weights[group]) for group, name in names]


class CollaborativeModel:
    """A trained model plus everything needed to score catalog tracks for a known user.

    Item index order: the ``n_warm`` tracks seen in training first (item ``i < n_warm`` owns
    identity feature column ``i``), then cold catalog tracks; metadata feature columns follow
    the identity columns in ``vocabulary`` order.
    """

    def __init__(
        self,
        model: LightFM,
        *,
        user_ids: Sequence[str],
        track_ids: Sequence[str],
        n_warm: int,
        vocabulary: Sequence[str],
        featurizer: Featurizer,
        item_features: sp.csr_matrix,
        user_items: sp.csr_matrix,
        metadata: dict[str, Any],
    ) -> None:
        self.model = model
        self.user_ids = list(user_ids)
        self.track_ids = list(track_ids)
        self.n_warm = n_warm
        self.vocabulary = list(vocabulary)
        self.featurizer = featurizer
        self.item_features = item_features
        self.user_items = user_items
        self.metadata = metadata
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._track_index = {t: i for i, t in enumerate(self.track_ids)}
        self._feature_index = {f: n_warm + i for i, f in enumerate(self.vocabulary)}
        # Scoring a user against the whole catalog is then one matrix-vector product.
        self._item_bias, self._item_repr = model.get_item_representations(item_features)

    # --- lookups -------------------------------------------------------------------------
    def has_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def has_track(self, track_id: str) -> bool:
        return track_id in self._track_index

    def known_items(self, user_id: str) -> set[str]:
        """Tracks the user interacted with in training (what `recommend` excludes)."""
        row = self._user(user_id)
        start, end = self.user_items.indptr[row], self.user_items.indptr[row + 1]
        return {self.track_ids[i] for i in self.user_items.indices[start:end]}

    # --- scoring -------------------------------------------------------------------------
    def score(self, user_id: str, track_ids: Sequence[str]) -> np.ndarray:
        """Scores (higher = better) for catalog track ids, cold ones included.

        Raises `UnknownUserError` for a user not in training; a track id outside the model's
        catalog gets NaN ("no opinion"), so a candidate list from the vector store can be
        reranked even when it holds tracks indexed after the model was trained.
        """
        user_bias, user_vec = self._user_vector(user_id)
        index = np.array([self._track_index.get(t, -1) for t in track_ids], dtype=np.int64)
        scores = np.full(len(index), np.nan, dtype=np.float32)
        found = index >= 0
        rows = index[found]
        scores[found] = self._item_repr[rows] @ user_vec + self._item_bias[rows] + user_bias
        return scores

    def score_tracks(self, user_id: str, tracks: Sequence[Track]) -> np.ndarray:
        """Scores for tracks the model may never have seen, from their metadata features only."""
        user_bias, user_vec = self._user_vector(user_id)
        features = self._feature_rows(tracks)
        item_bias, item_repr = self.model.get_item_representations(features)
        return (item_repr @ user_vec + item_bias + user_bias).astype(np.float32)

    def score_all(self, user_id: str) -> np.ndarray:
        """Scores over the whole model catalog, in ``track_ids`` order."""
        user_bias, user_vec = self._user_vector(user_id)
        return self._item_repr @ user_vec + self._item_bias + user_bias

    def recommend(
        self, user_id: str, k: int, exclude_known: bool = True
    ) -> list[tuple[str, float]]:
        scores = self.score_all(user_id)
        if exclude_known:
            row = self._user(user_id)
            start, end = self.user_items.indptr[row], self.user_items.indptr[row + 1]
            scores[self.user_items.indices[start:end]] = -np.inf
        k = max(0, min(k, int(np.isfinite(scores).sum())))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.track_ids[i], float(scores[i])) for i in top]

    def _user(self, user_id: str) -> int:
        try:
            return self._user_index[user_id]
        except KeyError:
            raise UnknownUserError(user_id) from None

    def _user_vector(self, user_id: str) -> tuple[float, np.ndarray]:
        row = self._user(user_id)
        return float(self.model.user_biases[row]), self.model.user_embeddings[row]

    def _feature_rows(self, tracks: Sequence[Track]) -> sp.csr_matrix:
        """Metadata-only rows in the trained vocabulary; features unseen in training are dropped."""
        rows = [
            [
                (self._feature_index[f], w)
                for f, w in self.featurizer.features(t)
                if f in self._feature_index
            ]
            for t in tracks
        ]
        return _normalized_csr(rows, self.item_features.shape[1])

    # --- persistence ---------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write a new versioned artefact, then point ``latest`` at it; returns its path."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        m = self.model
        meta = {**self.metadata, "format_version": FORMAT_VERSION}
        arrays = {
            "meta": _json_bytes(meta),
            "user_ids": _json_bytes(self.user_ids),
            "track_ids": _json_bytes(self.track_ids),
            "vocabulary": _json_bytes(self.vocabulary),
            "featurizer": _json_bytes(
                {"weights": self.featurizer.weights, "audio_edges": self.featurizer.audio_edges}
            ),
            "n_warm": np.array(self.n_warm),
            "item_embeddings": m.item_embeddings,
            "item_biases": m.item_biases,
            "user_embeddings": m.user_embeddings,
            "user_biases": m.user_biases,
            **_csr_arrays("item_features", self.item_features),
            **_csr_arrays("user_items", self.user_items),
        }
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        blob = buffer.getvalue()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"lightfm-{stamp}-{hashlib.sha256(blob).hexdigest()[:12]}.npz"
        atomic_write(directory / name, blob)
        atomic_write(directory / LATEST, (name + "\n").encode())
        return directory / name


def _json_bytes(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _from_json(array: np.ndarray) -> Any:
    return json.loads(array.tobytes().decode("utf-8"))


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.array(matrix.shape),
    }


def _csr_from(arrays: Any, prefix: str) -> sp.csr_matrix:
    shape = tuple(int(n) for n in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=shape,
    )


def load(path: str | Path) -> CollaborativeModel:
    """Load one artefact; further `fit_partial` restarts Adagrad (its state is not stored)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            meta = _from_json(arrays["meta"])
            version = meta.get("format_version")
            if version != FORMAT_VERSION:
                raise ModelArtefactError(
                    f"{path}: artefact format version {version}, this code reads "
                    f"{FORMAT_VERSION}; retrain with `musicrec train`"
                )
            params = meta["params"]
            model = LightFM(
                no_components=params["no_components"],
                loss=params["loss"],
                learning_rate=params["learning_rate"],
                item_alpha=params["item_alpha"],
                user_alpha=params["user_alpha"],
                random_state=params["seed"],
            )
            item_embeddings, user_embeddings = arrays["item_embeddings"], arrays["user_embeddings"]
            # Fresh optimizer state (not stored, it would double the artefact), then the weights.
            model._initialize(
                item_embeddings.shape[1], item_embeddings.shape[0], user_embeddings.shape[0]
            )
            model.item_embeddings, model.user_embeddings = item_embeddings, user_embeddings
            model.item_biases, model.user_biases = arrays["item_biases"], arrays["user_biases"]
            featurizer = _from_json(arrays["featurizer"])
            return CollaborativeModel(
                model,
                user_ids=_from_json(arrays["user_ids"]),
                track_ids=_from_json(arrays["track_ids"]),
                n_warm=int(arrays["n_warm"]),
                vocabulary=_from_json(arrays["vocabulary"]),
                featurizer=Featurizer(featurizer["weights"], featurizer["audio_edges"]),
                item_features=_csr_from(arrays, "item_features"),
                user_items=_csr_from(arrays, "user_items"),
                metadata=meta,
            )
    except ModelArtefactError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise ModelArtefactError(f"cannot load model artefact {path}: {exc}") from exc


def load_latest(directory: str | Path) -> CollaborativeModel | None:
    """The artefact ``latest`` names, or None when no model was ever published there."""
    pointer = Path(directory) / LATEST
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not name or Path(name).name != name:
        raise ModelArtefactError(f"{pointer} does not name an artefact file: {name!r}")
    return load(pointer.parent / name)


# --- training ----------------------------------------------------------------------------
def train(
    interactions: pd.DataFrame,
    tracks: Iterable[Track],
    *,
    loss: str = "warp",
    no_components: int = 32,
    epochs: int = 20,
    learning_rate: float = 0.05,
    item_alpha: float = 1e-6,
    user_alpha: float = 1e-6,
    feature_weights: Mapping[str, float] = DEFAULT_FEATURE_WEIGHTS,
    num_threads: int = 2,
    seed: int = 42,
    on_epoch: Callable[[int, float], None] | None = None,
) -> CollaborativeModel:
    """Fit on ``user_id, track_id[, weight]`` rows over the given catalog.

    Interactions with tracks outside the catalog are dropped (counted in the metadata);
    duplicate pairs are summed. With ``num_threads > 1`` LightFM trains Hogwild-style, so runs
    are not bit-identical even with the same seed.
    """
    started = time.perf_counter()
    catalog: dict[str, Track] = {}
    for track in tracks:
        # Lyrics are not features and can be most of a catalog's memory.
        if track.id not in catalog:
            catalog[track.id] = (
                track if track.lyrics is None else track.model_copy(update={"lyrics": None})
            )
    if not catalog:
        raise ValueError("the catalog is empty")
    pairs, dropped = _aggregate(interactions, catalog)
    if pairs.empty:
        raise ValueError("no interactions left that refer to catalog tracks")

    warm = pd.unique(pairs["track_id"]).tolist()
    warm_set = set(warm)
    track_ids = warm + [t for t in catalog if t not in warm_set]
    user_ids = pd.unique(pairs["user_id"]).tolist()
    track_index = {t: i for i, t in enumerate(track_ids)}
    user_index = {u: i for i, u in enumerate(user_ids)}

    featurizer = Featurizer.fit(list(catalog.values()), feature_weights)
    item_features, vocabulary = _item_features(track_ids, len(warm), catalog, featurizer)
    rows = pairs["user_id"].map(user_index).to_numpy(dtype=np.int32)
    cols = pairs["track_id"].map(track_index).to_numpy(dtype=np.int32)
    # A copy: pandas' copy-on-write can hand out read-only buffers, which LightFM's Cython
    # training loop refuses ("buffer source array is read-only").
    weights = pairs["weight"].to_numpy(dtype=np.float32, copy=True)
    shape = (len(user_ids), len(track_ids))
    matrix = sp.coo_matrix((np.ones_like(weights), (rows, cols)), shape=shape)
    sample_weight = None if np.all(weights == 1) else sp.coo_matrix((weights, (rows, cols)), shape)

    model = LightFM(
        no_components=no_components,
        loss=loss,
        learning_rate=learning_rate,
        item_alpha=item_alpha,
        user_alpha=user_alpha,
        random_state=seed,
    )
    for epoch in range(epochs):
        model.fit_partial(
            matrix,
            item_features=item_features,
            sample_weight=sample_weight,
            num_threads=num_threads,
        )
        if on_epoch is not None:
            on_epoch(epoch + 1, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    metadata = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lightfm_version": LIGHTFM_VERSION,
        "params": {
            "loss": loss,
            "no_components": no_components,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "item_alpha": item_alpha,
            "user_alpha": user_alpha,
            "feature_weights": featurizer.weights,
            "num_threads": num_threads,
            "seed": seed,
        },
        "counts": {
            "users": len(user_ids),
            "items": len(track_ids),
            "warm_items": len(warm),
            "interactions": len(pairs),
            "dropped_unknown_track_interactions": dropped,
            "features": int(item_features.shape[1]),
        },
        "train_seconds": round(seconds, 3),
    }
    return CollaborativeModel(
        model,
        user_ids=user_ids,
        track_ids=track_ids,
        n_warm=len(warm),
        vocabulary=vocabulary,
        featurizer=featurizer,
        item_features=item_features,
        user_items=matrix.tocsr(),
        metadata=metadata,
    )


def _aggregate(interactions: pd.DataFrame, catalog: dict[str, Track]) -> tuple[pd.DataFrame, int]:
    """Pairs in the catalog with summed weights, and how many rows fell outside it."""
    missing = [c for c in ("user_id", "track_id") if c not in interactions]
    if missing:
        raise ValueError(f"interactions lack column(s) {missing}")
    frame = interactions[["user_id", "track_id"]].astype(str)
    frame["weight"] = interactions.get("weight", 1.0)
    in_catalog = frame["track_id"].isin(set(catalog))
    pairs = frame[in_catalog].groupby(["user_id", "track_id"], sort=False, as_index=False).sum()
    return pairs[pairs["weight"] > 0].reset_index(drop=True), int((~in_catalog).sum())


def _item_features(
    track_ids: Sequence[str], n_warm: int, catalog: dict[str, Track], featurizer: Featurizer
) -> tuple[sp.csr_matrix, list[str]]:
    """Cold items keep features no warm item has (e.g. an artist nobody played): WARP pushes
    those down as negatives, which acted as a useful prior (restricting the vocabulary to warm
    items' features lowered held-out AUC on playlist slices from about 0.68 to 0.63)."""
    vocabulary: dict[str, int] = {}
    rows: list[list[tuple[int, float]]] = []
    identity = featurizer.identity_weight
    for i, track_id in enumerate(track_ids):
        row = [(i, identity)] if i < n_warm and identity > 0 else []
        for name, weight in featurizer.features(catalog[track_id]):
            row.append((n_warm + vocabulary.setdefault(name, len(vocabulary)), weight))
        rows.append(row)
    return _normalized_csr(rows, n_warm + len(vocabulary)), list(vocabulary)


def _normalized_csr(rows: Sequence[Sequence[tuple[int, float]]], n_columns: int) -> sp.csr_matrix:
    """Rows summing to one (LightFM's usual practice): a track with many artists or features
    must not get a larger-norm representation, and so larger scores, than one with few."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    total = int(indptr[-1])
    indices = np.fromiter((c for r in rows for c, _ in r), dtype=np.int32, count=total)
    data = np.fromiter((w for r in rows for _, w in r), dtype=np.float64, count=total)
    sums = np.bincount(np.repeat(np.arange(len(rows)), lengths), weights=data, minlength=len(rows))
    sums = np.where(sums > 0, sums, 1.0)
    data = (data / np.repeat(sums, lengths)).astype(np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_columns))
    matrix.sum_duplicates()
    return matrix
