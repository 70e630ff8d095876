"""`musicrec train`'s two fits side by side (jobs.train.publish_models, through the train
job's `train_on_collection`), on a real indexed slice and the listeners in its database:
LightFM on every event runs in a second thread while the ranker trains; both are published,
LightFM first; a stop raised by the ranker's progress stops the other fit too and publishes
nothing; a failed served fit stops the ranker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.collab.artefact import LATEST
from core.recommend.rankers.artefact import POINTER
from core.store.edge import EdgeStore
from jobs.train import Published, train_on_collection
from schemas.settings import Settings
from tests.jobs.helpers import build_world


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def world(module_dir: Path, lyrics_encoder) -> Settings:
    return build_world(module_dir / "data", lyrics_encoder, module_dir, lightfm_epochs=30)


def train(world: Settings, out: Path, log, on_epoch=None) -> Published:
    """A train job on `world`'s collection and database, publishing to `out`."""
    settings = world.model_copy(update={"model_dir": out})
    store = EdgeStore(settings.qdrant_path, settings.collection)
    try:
        return train_on_collection(settings, store, log, on_epoch)
    finally:
        store.close()


def test_both_fits_run_side_by_side_and_publish_in_order(world: Settings, tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    published = train(
        world, tmp_path, lambda line: lines.append((threading.current_thread().name, line))
    )
    assert published.ranker is not None
    assert (tmp_path / LATEST).exists() and (tmp_path / POINTER).exists()
    served = [name for name, line in lines if "LightFM on all events: epoch" in line]
    own = [name for name, line in lines if "LightFM on the ranker's feature part: epoch" in line]
    assert len(served) == len(own) == 30
    main = threading.main_thread().name
    assert set(own) == {main} and main not in served  # the served model: another thread
    texts = [line for _, line in lines]
    first_lightfm = next(i for i, t in enumerate(texts) if t.startswith("trained "))
    assert texts[-1].startswith("ranker trained on") and first_lightfm < len(texts) - 1


def test_a_stop_in_the_ranker_stops_both_and_publishes_nothing(
    world: Settings, tmp_path: Path
) -> None:
    served_epochs = []

    def log(line: str) -> None:
        if "LightFM on all events: epoch" in line:
            served_epochs.append(line)
        if line.startswith("ranker:") and "users with held-out tracks" in line:
            raise Stop("cancelled")

    def slow_served_epochs(_epoch: int, _epochs: int) -> None:
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.05)  # 30 epochs: 1.5 s, far longer than the ranker takes to log

    with pytest.raises(Stop):
        train(world, tmp_path, log, slow_served_epochs)
    assert not (tmp_path / LATEST).exists() and not (tmp_path / POINTER).exists()
    assert not any(t.name.startswith("lightfm") for t in threading.enumerate())
    assert len(served_epochs) < 30, "the served fit ran to its end after the stop"


def test_a_failed_served_fit_stops_the_ranker_at_its_next_progress_line(
    world: Settings, tmp_path: Path
) -> None:
    lines: list[str] = []

    def served_fails(_epoch: int, _epochs: int) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise MemoryError("the served fit ran out of memory")

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("ranker:"):
            time.sleep(0.3)  # the served fit has failed long before the ranker's next line

    with pytest.raises(MemoryError, match="served fit"):
        train(world, tmp_path, log, served_fails)
    assert not any(" rows for " in line for line in lines), "the ranker pooled to its end"
    assert not (tmp_path / LATEST).exists() and not (tmp_path / POINTER).exists()
