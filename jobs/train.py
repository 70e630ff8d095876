"""Training, composed from settings: LightFM on the events, then the learned ranker on the
indexed collection, both published atomically beside each other. `musicrec train` runs it
after reading its inputs; scripts/bench_personal.py calls `fit_and_publish` so the benchmark's
artefacts are the ones the command would publish."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from core.collab.artefact import LATEST, save
from core.collab.model import CollaborativeModel
from core.collab.training import train
from core.recommend.factory import build_recommender
from core.recommend.rankers.artefact import POINTER
from core.recommend.training import ranker_params, train_ranker
from core.store import StoreError
from core.store.factory import open_store
from schemas.settings import Settings
from schemas.tracks import Track


def fit_and_publish(
    settings: Settings,
    tracks: Sequence[Track],
    events: pd.DataFrame,
    out: Path,
    log: Callable[[str], None],
) -> int:
    """`musicrec train` after reading: fit LightFM on `events` (user_id, track_id[, weight])
    over the catalog `tracks`, publish it to `out`, then train and publish the learned ranker
    beside it. Also called by scripts/bench_personal.py, so the benchmark's artefacts are the
    ones this command would publish."""
    epochs = settings.lightfm_epochs
    catalog = list(tracks)  # fitted twice: on all events, then on the ranker's feature part

    def fit(frame: pd.DataFrame) -> CollaborativeModel:
        return train(
            frame,
            catalog,
            loss=settings.lightfm_loss,
            no_components=settings.lightfm_components,
            epochs=epochs,
            learning_rate=settings.lightfm_learning_rate,
            item_alpha=settings.lightfm_item_alpha,
            num_threads=settings.lightfm_threads,
            seed=settings.lightfm_seed,
            on_epoch=lambda e, s: log(f"  epoch {e}/{epochs} ({s:.1f} s)"),
        )

    model = fit(events)
    path = save(model, out, keep=settings.model_keep)
    counts = model.metadata["counts"]
    log(
        f"trained {settings.lightfm_loss}: {counts['users']} users, {counts['items']} items "
        f"({counts['warm_items']} with interactions, LightFM's items), "
        f"{counts['interactions']} interactions, "
        f"{counts['features']} features in {model.metadata['train_seconds']:.1f} s\n"
        f"artefact {path} ({path.stat().st_size / 1e6:.2f} MB), published as {out / LATEST}"
    )
    train_and_publish(settings, events, fit, out, log)  # then the learned ranker
    return 0


def train_and_publish(
    settings: Settings,
    interactions: pd.DataFrame,
    fit_collab: Callable[[pd.DataFrame], CollaborativeModel],
    out: Path,
    log: Callable[[str], None],
) -> Path | None:
    """`musicrec train`'s second step (`fit_collab`: how it trains LightFM): fit the ranker on
    the indexed collection and publish it beside the LightFM model. The features need every
    candidate's stored vectors, so the collection must be open to this process: a Qdrant
    server, or the embedded shard while the API is stopped. Otherwise this says why and
    returns None; the last published ranker (or the linear blend) keeps serving."""
    try:
        store = open_store(settings)
        ready = store.exists() and store.count() > 0  # count() takes the embedded shard's lock
    except StoreError as exc:
        log(
            f"ranker not trained: the collection cannot be opened ({exc}); stop the API or use "
            "a Qdrant server, then run `musicrec train` again (the last ranker keeps serving)"
        )
        return None
    try:
        if not ready:
            log(f"ranker not trained: collection '{settings.collection}' is empty or missing")
            return None

        params = ranker_params(settings)
        try:
            artefact = train_ranker(
                interactions,
                build_recommender(settings, store),
                fit_collab,
                params,
                log,
                cf=settings,
            )
        except ValueError as exc:
            log(f"ranker not trained: {exc}")
            return None
        path = artefact.save(out, keep=settings.model_keep)
        counts = artefact.metadata["counts"]
        log(
            f"ranker trained on {counts['query_users']} users ({counts['rows']} candidates, "
            f"{counts['rounds']} rounds) in {artefact.metadata['train_seconds']:.1f} s; "
            f"artefact {path}, published as {out / POINTER}"
        )
        return path
    finally:
        store.close()
