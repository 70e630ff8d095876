"""`musicrec worker`: the retraining schedule as its own process, for a Qdrant server.

With a server the API replicas are stateless; one or more workers run MUSICREC_TRAIN_EVERY /
MUSICREC_TRAIN_AFTER_EVENTS (`jobs.schedule`) against the shared database and collection,
and publish to the shared model directory the replicas hot-reload from. Each train job takes
the database's training lock, so two workers (or a worker and an API) never train at once:
the one that finds it held records its job as failed and tries at the next period. On the
embedded engine the API that owns the shard runs this schedule itself.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from typing import Annotated

import typer

from schemas.settings import load_settings


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="run one train job now, then exit with its result")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option(min=0, help="stop after this long (tests, cron)")
    ] = None,
) -> int:
    """Retrain on the schedule (MUSICREC_TRAIN_EVERY / MUSICREC_TRAIN_AFTER_EVENTS)."""
    from core.interactions.factory import open_interaction_store
    from core.interactions.jobs import JobStore
    from core.store import StoreError, open_store
    from jobs.runner import JobRunner
    from jobs.schedule import TrainSchedule

    settings = load_settings()
    if settings.engine == "edge":
        raise StoreError(
            "musicrec worker is for a Qdrant server (MUSICREC_QDRANT_URL): on the embedded "
            "engine the API that owns the shard runs the schedule (MUSICREC_TRAIN_EVERY)"
        )
    schedule_off = settings.train_every is None and settings.train_after_events is None
    if not once and schedule_off:
        raise typer.BadParameter(
            "set MUSICREC_TRAIN_EVERY and/or MUSICREC_TRAIN_AFTER_EVENTS (or use --once)"
        )
    interactions = open_interaction_store(settings)
    store = open_store(settings)
    records = JobStore(interactions.engine, f"worker:{socket.gethostname()}")
    runner = JobRunner(settings, store, records)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runner.start()
        if once:
            job = runner.submit("train", {"trigger": "musicrec worker --once"})
            while (record := records.get(job.id)) is not None and record.state in (
                "queued",
                "running",
            ):
                time.sleep(0.5)
            assert record is not None
            print(f"job {record.id}: {record.state}: {record.message or ''}")
            return 0 if record.state == "succeeded" else 1
        schedule = TrainSchedule(settings, records, interactions)
        deadline = time.monotonic() + max_seconds if max_seconds is not None else None
        print("worker: training on the schedule; SIGTERM stops it", file=sys.stderr, flush=True)
        while not stop.wait(settings.train_check_seconds):
            if (job_id := schedule.tick(runner)) is not None:
                print(f"worker: train job {job_id} submitted", file=sys.stderr, flush=True)
            if deadline is not None and time.monotonic() >= deadline:
                break
        return 0
    finally:
        runner.close()
        store.close()
        interactions.close()
