"""The database unreachable at start-up (a real PostgreSQL, stopped before the API starts,
then started): the API serves degraded — /health says so with the reason, writes are 503
with Retry-After, personalised lists come from the history the models know — and it
reconnects by itself when the database returns. And the training lock on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from sqlalchemy import create_engine

from api.main import create_app
from core.collab.artefact import save
from core.collab.training import train
from core.interactions.jobs import JobStore
from core.interactions.locks import train_lock
from core.interactions.store import SqlInteractionStore
from core.store.edge import EdgeStore
from jobs.runner import JobRunner
from schemas.tracks import Track
from tests.conftest import LiveServer, make_settings
from tests.fixtures.postgres import PostgresCluster, missing_reason
from tests.jobs.helpers import FAST, HEADERS, copy_world, listeners

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))


@pytest.fixture
def own_cluster():
    """A cluster of this test's own: it is stopped and started again."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


def test_degraded_start_then_reconnect(indexed_dir, tmp_path, own_cluster) -> None:
    url = own_cluster.new_database()
    # The session's `api` server may hold the shared shard: this API serves a copy.
    data = copy_world(indexed_dir, tmp_path / "data")
    probe = EdgeStore(make_settings(data).qdrant_path, "tracks")
    tracks = [Track.from_payload(r.payload) for b in probe.scroll(512) for r in b]
    probe.close()
    events = listeners([t.id for t in tracks])
    store = SqlInteractionStore.open(url)
    store.record(events)
    store.close()
    frame = pd.DataFrame([(e.user_id, e.track_id) for e in events], columns=["user_id", "track_id"])
    model_dir = tmp_path / "models"
    save(train(frame, tracks, epochs=2, num_threads=1, seed=1), model_dir)
    own_cluster.stop_server()

    settings = make_settings(
        data,
        **{**FAST, "database_url": url, "database_connect_timeout": 1, "model_dir": model_dir},
    )
    event = {"events": [{"user_id": "u1", "track_id": tracks[0].id, "event_id": "late-1"}]}
    with LiveServer(create_app(settings)) as client:
        health = client.get("/health")
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "degraded" and body["database"] == "unavailable"
        assert "database unavailable" in body["detail"]
        write = client.post("/interactions", json=event, headers=HEADERS)
        assert write.status_code == 503 and write.headers["Retry-After"]
        assert client.post("/jobs", json={"kind": "train"}, headers=HEADERS).status_code == 503
        personal = client.get("/users/u1/recommendations", params={"limit": 5})
        assert personal.status_code == 200, personal.text
        assert personal.json()["items"]

        own_cluster.start_server()
        deadline = time.monotonic() + 60
        while client.get("/health").json()["database"] != "ok":
            assert time.monotonic() < deadline, "the API did not reconnect"
            time.sleep(0.5)
        assert client.get("/health").status_code == 200
        assert client.post("/interactions", json=event, headers=HEADERS).status_code == 201
        jobs = client.get("/jobs", headers=HEADERS)
        assert jobs.status_code == 200  # the runner started on reconnect


def test_two_trainers_never_train_at_once_on_postgresql(postgres_cluster, tmp_path) -> None:
    engine = create_engine(postgres_cluster.new_database())
    other = create_engine(str(engine.url))
    SqlInteractionStore(engine)  # the schema is not needed by the lock
    try:
        with train_lock(engine) as first:
            assert first
            seen: list[bool] = []
            worker = threading.Thread(target=lambda: seen.append(_try(other)))
            worker.start()
            worker.join(30)
            assert seen == [False]  # another process's connection: refused, not waiting
        assert _try(other)  # released at exit
    finally:
        engine.dispose()
        other.dispose()


def _try(engine) -> bool:
    with train_lock(engine) as held:
        return held


def test_a_train_job_skips_while_another_trainer_holds_the_lock(postgres_cluster, tmp_path) -> None:
    url = postgres_cluster.new_database()
    store = SqlInteractionStore.open(url)
    settings = make_settings(tmp_path / "d", **{**FAST, "database_url": url})
    runner = JobRunner(settings, EdgeStore(tmp_path / "q", "none"), JobStore(store.engine, "t"))
    runner.start()
    try:
        with train_lock(create_engine(url)) as held:
            assert held
            job = runner.submit("train", {"trigger": "test"})
            deadline = time.monotonic() + 60
            while (record := runner.records.get(job.id)).state in ("queued", "running"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert record.state == "failed" and "training lock" in (record.message or "")
    finally:
        runner.close()
        store.close()
