"""Fitting LightFM on user–track interactions: the only module that imports LightFM.

LightFM's items are the tracks that have interactions (``items="warm"``). WARP draws its
negatives from the item set, so making every catalog track an item (``items="catalog"``, how
this project trained before) spent most negatives on tracks no user holds, which teaches
little: in the TidyTuesday playlists about 82% of the catalog. Cold tracks stay scorable: their
item-feature rows, in the vocabulary the warm tracks trained, are built here and stored with
the model (`CollaborativeModel`), so they are scored and recommended from their metadata.
``items="catalog"`` remains as the baseline that scripts/compare_lightfm_items.py measures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from lightfm import LightFM
from lightfm.version import __version__ as LIGHTFM_VERSION

from core.collab.features import DEFAULT_FEATURE_WEIGHTS, Featurizer
from core.collab.model import CollaborativeModel
from schemas.tracks import Track

__all__ = ["ItemSet", "train"]

#: Which tracks are LightFM items (and so WARP's negatives): see the module docstring.
ItemSet = Literal["warm", "catalog"]


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
    on_fitted: Callable[[LightFM], None] | None = None,
    items: ItemSet = "warm",
) -> CollaborativeModel:
    """Fit on ``user_id, track_id[, weight]`` rows over the given catalog.

    Interactions with tracks outside the catalog are dropped (counted in the metadata);
    duplicate pairs are summed. With ``num_threads > 1`` LightFM trains Hogwild-style, so runs
    are not bit-identical even with the same seed. ``on_fitted`` receives the LightFM object
    before it is dropped (the tests compare its ``predict`` with the served numpy scores).
    """
    if items not in ("warm", "catalog"):
        raise ValueError(f"items must be 'warm' or 'catalog', got {items!r}")
    started = time.perf_counter()
    catalog = _catalog(tracks)
    pairs, dropped = _aggregate(interactions, catalog)
    if pairs.empty:
        raise ValueError("no interactions left that refer to catalog tracks")

    warm = pd.unique(pairs["track_id"]).tolist()
    warm_set = set(warm)
    track_ids = warm + [t for t in catalog if t not in warm_set]
    user_ids = pd.unique(pairs["user_id"]).tolist()
    track_index = {t: i for i, t in enumerate(track_ids)}
    user_index = {u: i for i, u in enumerate(user_ids)}
    n_items = len(warm) if items == "warm" else len(track_ids)

    featurizer = Featurizer.fit(
        list(catalog.values()), feature_weights, reserve_identity=items == "warm"
    )
    ordered = [catalog[t] for t in track_ids]
    item_features, vocabulary = _item_features(ordered, len(warm), n_items, featurizer)
    rows = pairs["user_id"].map(user_index).to_numpy(dtype=np.int32)
    cols = pairs["track_id"].map(track_index).to_numpy(dtype=np.int32)
    # A copy: pandas' copy-on-write can hand out read-only buffers, which LightFM's Cython
    # training loop refuses ("buffer source array is read-only").
    weights = pairs["weight"].to_numpy(dtype=np.float32, copy=True)
    shape = (len(user_ids), n_items)
    matrix = sp.coo_matrix((np.ones_like(weights), (rows, cols)), shape=shape)
    sample_weight = None if np.all(weights == 1) else sp.coo_matrix((weights, (rows, cols)), shape)

    lightfm = LightFM(
        no_components=no_components,
        loss=loss,
        learning_rate=learning_rate,
        item_alpha=item_alpha,
        user_alpha=user_alpha,
        random_state=seed,
    )
    trained_rows = item_features[:n_items]
    for epoch in range(epochs):
        lightfm.fit_partial(
            matrix, item_features=trained_rows, sample_weight=sample_weight, num_threads=num_threads
        )
        if on_epoch is not None:
            on_epoch(epoch + 1, time.perf_counter() - started)
    if on_fitted is not None:
        on_fitted(lightfm)
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
            "items": items,
        },
        "counts": {
            "users": len(user_ids),
            "items": len(track_ids),
            "warm_items": len(warm),
            "lightfm_items": n_items,
            "interactions": len(pairs),
            "dropped_unknown_track_interactions": dropped,
            "features": int(item_features.shape[1]),
        },
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    return CollaborativeModel(
        user_ids=user_ids,
        track_ids=track_ids,
        n_warm=len(warm),
        vocabulary=vocabulary,
        featurizer=featurizer,
        item_features=item_features,
        user_items=sp.csr_matrix((matrix.data, (rows, cols)), (len(user_ids), len(track_ids))),
        user_embeddings=lightfm.user_embeddings,
        user_biases=lightfm.user_biases,
        item_embeddings=lightfm.item_embeddings,
        item_biases=lightfm.item_biases,
        metadata=metadata,
    )


def _catalog(tracks: Iterable[Track]) -> dict[str, Track]:
    """Tracks by id, first occurrence wins; lyrics dropped (not features, and they can be most
    of a catalog's memory)."""
    catalog: dict[str, Track] = {}
    for track in tracks:
        if track.id not in catalog:
            catalog[track.id] = (
                track if track.lyrics is None else track.model_copy(update={"lyrics": None})
            )
    if not catalog:
        raise ValueError("the catalog is empty")
    return catalog


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
    tracks: Sequence[Track], n_warm: int, n_items: int, featurizer: Featurizer
) -> tuple[sp.csr_matrix, list[str]]:
    """One row per track: identity (warm tracks only) plus metadata features.

    The vocabulary is the features of the first ``n_items`` tracks, the ones LightFM trains
    on: a feature only cold tracks have would keep its random initial embedding and add
    noise to their scores, so their rows drop it instead (as `score_tracks` does for a track
    added after training).
    """
    vocabulary: dict[str, int] = {}
    for track in tracks[:n_items]:
        for name, _ in featurizer.features(track):
            vocabulary.setdefault(name, n_warm + len(vocabulary))
    matrix = featurizer.rows(tracks, vocabulary, n_warm + len(vocabulary), n_identity=n_warm)
    return matrix, list(vocabulary)
