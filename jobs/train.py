"""Training, composed from settings: LightFM on the events and the learned ranker on the
indexed collection, fitted side by side, both published atomically beside each other.
`musicrec train` runs it after reading its inputs; the API's job runner and `musicrec worker`
run `train_on_collection` (the catalog is the indexed collection, the events the database) on
the store they hold; scripts/bench_personal.py calls `fit_and_publish` so the benchmark's
artefacts are the ones the command would publish."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from core.collab.artefact import LATEST, save
from core.collab.model import CollaborativeModel
from core.interactions.factory import training_interactions
from core.interactions.files import InteractionStats
from core.recommend.factory import build_recommender
from core.recommend.rankers.artefact import POINTER, RankerArtefact
from core.recommend.training import ranker_params, train_ranker
from core.store import StoreError, VectorStore
from core.store.factory import open_store
from schemas.settings import Settings
from schemas.tracks import Track


@dataclass(frozen=True)
class Published:
    """What one training run published (file names, as `/health` reports versions)."""

    model: str
    ranker: str | None

    def versions(self) -> dict[str, str]:
        return {"model": self.model, **({"ranker": self.ranker} if self.ranker else {})}


def collection_tracks(store: VectorStore) -> list[Track]:
    """The catalog as indexed (every stored payload; lyrics are never stored, and training
    does not read them)."""
    return [Track.from_payload(r.payload) for batch in store.scroll(1024) for r in batch]


def train_on_collection(
    settings: Settings,
    store: VectorStore,
    log: Callable[[str], None],
    on_epoch: Callable[[int, int], None] | None = None,
) -> Published:
    """A train job: the indexed collection's tracks, every event in the database, LightFM
    then the ranker on `store` (the one the caller owns), published to the model directory."""
    assert settings.model_dir is not None
    tracks = collection_tracks(store)
    if not tracks:
        raise ValueError(f"collection '{settings.collection}' is empty: index a catalog first")
    stats = InteractionStats()
    events = training_interactions(settings, known_track_ids={t.id for t in tracks}, stats=stats)
    log(f"{len(tracks)} tracks in the collection; database: {stats.summary()}")
    if events.empty:
        raise ValueError("no interactions recorded: POST /interactions or import some first")
    return publish_models(settings, tracks, events, settings.model_dir, log, store, on_epoch)


def fit_and_publish(
    settings: Settings,
    tracks: Sequence[Track],
    events: pd.DataFrame,
    out: Path,
    log: Callable[[str], None],
) -> int:
    """`musicrec train` after reading: fit LightFM on `events` (user_id, track_id[, weight])
    over the catalog `tracks` and the learned ranker, and publish both to `out`. Also called
    by scripts/bench_personal.py, so the benchmark's artefacts are the ones this command
    would publish."""
    publish_models(settings, tracks, events, out, log)
    return 0


def publish_models(
    settings: Settings,
    tracks: Sequence[Track],
    events: pd.DataFrame,
    out: Path,
    log: Callable[[str], None],
    store: VectorStore | None = None,
    on_epoch: Callable[[int, int], None] | None = None,
) -> Published:
    """LightFM on every event and the ranker, fitted side by side, then published in that
    order (LightFM first: a new ranker never serves beside the previous model). The ranker
    needs only its own LightFM, fitted on its feature part, so the served model is fitted in a
    second thread meanwhile: the ranker's pooling runs one core through the GIL, and LightFM's
    Cython loop releases it (at 160k this hid most of LightFM's time: docs/performance.md).
    `on_epoch(epoch, epochs)` after each epoch of either fit may raise to stop the run (a
    cancelled job) before anything is published; so may `log` (the ranker's progress); then
    the other fit stops at its next epoch too, and a failed served fit stops the ranker at its
    next progress line."""
    epochs = settings.lightfm_epochs
    catalog = list(tracks)  # fitted twice: on all events, and on the ranker's feature part
    stop = threading.Event()

    # LightFM is the `train` extra: imported when a job trains, so the API that runs jobs
    # serves without it.
    from core.collab.training import train

    def fit(frame: pd.DataFrame, part: str, threads: int) -> CollaborativeModel:
        def epoch_done(epoch: int, seconds: float) -> None:
            if stop.is_set():
                raise _Stopped
            log(f"  LightFM on {part}: epoch {epoch}/{epochs} ({seconds:.1f} s)")
            if on_epoch is not None:
                on_epoch(epoch, epochs)

        options = {**settings.lightfm_options(), "num_threads": threads}
        return train(frame, catalog, **options, on_epoch=epoch_done)

    with ThreadPoolExecutor(1, thread_name_prefix="lightfm") as background:
        # Half the threads for the served fit: the ranker's own fit needs its model first,
        # the served one only at the end, and it then shares the cores with the pooling.
        threads = settings.lightfm_threads
        served = background.submit(fit, events, "all events", max(1, threads // 2))

        def progress(line: str) -> None:
            log(line)
            if served.done():
                served.result()  # the served fit failed: its error now, not after the pooling

        try:
            own = partial(fit, part="the ranker's feature part", threads=threads)
            ranker = fit_ranker(settings, events, own, progress, store)
        except BaseException:
            stop.set()  # the served fit stops at its next epoch; nothing is published
            raise
        model = served.result()
    path = save(model, out, keep=settings.model_keep)
    counts = model.metadata["counts"]
    log(
        f"trained {settings.lightfm_loss}: {counts['users']} users, {counts['items']} items "
        f"({counts['warm_items']} with interactions, LightFM's items), "
        f"{counts['interactions']} interactions, "
        f"{counts['features']} features in {model.metadata['train_seconds']:.1f} s\n"
        f"artefact {path} ({path.stat().st_size / 1e6:.2f} MB), published as {out / LATEST}"
    )
    if ranker is None:
        return Published(path.name, None)
    ranker_path = ranker.save(out, keep=settings.model_keep)
    counts = ranker.metadata["counts"]
    log(
        f"ranker trained on {counts['query_users']} users ({counts['rows']} candidates, "
        f"{counts['rounds']} rounds) in {ranker.metadata['train_seconds']:.1f} s; "
        f"artefact {ranker_path}, published as {out / POINTER}"
    )
    return Published(path.name, ranker_path.name)


class _Stopped(Exception):
    """The other fit failed or was cancelled: this one stops at its next epoch."""


def fit_ranker(
    settings: Settings,
    interactions: pd.DataFrame,
    fit_collab: Callable[[pd.DataFrame], CollaborativeModel],
    log: Callable[[str], None],
    store: VectorStore | None = None,
) -> RankerArtefact | None:
    """The learned ranker of `musicrec train` (`fit_collab`: how it trains LightFM), fitted on
    the indexed collection, not yet published. The pools are the collection's: `store` when
    the caller owns it (the API's job runner), otherwise this opens one (a Qdrant server, or
    the embedded shard no API owns; a locked one is reported and None returned: the last
    ranker, or the linear blend, keeps serving)."""
    owned = store is None
    try:
        if store is None:
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

        try:
            return train_ranker(
                interactions,
                build_recommender(settings, store),
                fit_collab,
                ranker_params(settings),
                log,
                cf=settings,
            )
        except ValueError as exc:
            log(f"ranker not trained: {exc}")
            return None
    finally:
        if owned:
            store.close()
