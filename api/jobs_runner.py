"""The API's background work besides the model reload: the job runner, the retraining
schedule, the database reconnect, and the owner file of the embedded shard.

`run_background(app)` is one async context in the lifespan. It builds a `JobRunner` on the
API's own store (the embedded shard has one owner: index jobs write through this instance),
starts it once the database is ready (a degraded start starts it on reconnect), writes the
owner file so the CLI can hand its work here, and runs small loops off the event loop: the
database reconnect check, the schedule, the preload of the embedded shard's files into the
page cache (`core.store.preload`, once at start-up), and the personal lists' refresh (the
lists of users with new events, at once; the lists of the MUSICREC_PRECOMPUTE_USERS most
active users, after start-up, after each model or ranker change and as they expire). On exit
the running job is cancelled at its next safe point, a refresh ends after its current user, a
preload after its current read, and the owner file is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from api.resources import Resources
from core.interactions.jobs import JobStore
from core.recommend.listeners import most_active
from core.store.owner import owner_path, remove_owner, write_owner
from core.store.preload import Preload, preload_store
from jobs.runner import JobRunner
from jobs.schedule import TrainSchedule
from schemas.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between two reconnect attempts while the database is down.
RECONNECT_SECONDS = 2.0
#: Seconds between two checks for a model or ranker whose users' lists need computing.
LISTS_CHECK_SECONDS = 5.0


def runner_name(settings: Settings) -> str:
    """Jobs of one store on one host: the API that owns it after a restart finds its own."""
    path = settings.qdrant_path
    where = path.resolve() if settings.engine == "edge" and path else settings.qdrant_url
    return f"api:{socket.gethostname()}:{where}/{settings.collection}"[:512]


def owner_url(settings: Settings) -> str:
    if settings.owner_url:
        return settings.owner_url.rstrip("/")
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


async def _every(seconds: float, what: str, step: Callable[[], Any]) -> None:
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(step)
        except Exception:
            log.exception("%s failed; tried again in %g s", what, seconds)


def build_runner(resources: Resources) -> JobRunner:
    settings = resources.settings

    def reload_published(_versions: dict[str, str]) -> None:
        for holder in resources.holders():  # the next response carries the new versions
            holder.reload()

    return JobRunner(
        settings,
        resources.store,
        JobStore(resources.interactions.engine, runner_name(settings)),
        lyrics=resources.lyrics_encoder,
        on_published=reload_published,
        on_indexed=resources.lists.clear,
    )


def preload_shard(resources: Resources, stopped: Callable[[], bool]) -> None:
    """The embedded shard's files into the page cache (`core.store.preload`), logged;
    `resources.preloaded` says what was done once it is over, failed included."""
    try:
        done = preload_store(resources.store, resources.settings.preload_store_mb, stopped)
    except Exception as exc:  # cold pages cost time, not answers: serving goes on
        log.exception("preloading the shard's files failed")
        done = Preload(0, 0, 0, 0.0, skipped=f"failed: {exc}")
    else:
        if done.files:  # a server's store has none
            log.info(done.describe())
    resources.preloaded = done


@asynccontextmanager
async def run_background(app: FastAPI) -> AsyncIterator[None]:
    resources: Resources = app.state.resources
    settings = resources.settings
    runner = resources.jobs = build_runner(resources)
    resources.database.when_ready(runner.start)
    shard_dir = settings.qdrant_path if settings.engine == "edge" else None
    owner = owner_path(shard_dir, settings.collection) if shard_dir is not None else None
    if owner is not None:
        write_owner(owner, owner_url(settings))
    schedule = TrainSchedule(settings, runner.records, resources.interactions)
    tasks = [
        asyncio.create_task(
            _every(RECONNECT_SECONDS, "database reconnect", resources.database.try_ready)
        )
    ]
    if schedule.enabled:

        def tick() -> None:
            if resources.database.ready and runner.started and (job := schedule.tick(runner)):
                log.info("scheduled train job %s submitted", job)

        tasks.append(asyncio.create_task(_every(settings.train_check_seconds, "schedule", tick)))
    stop = threading.Event()  # the preload and the lists' refresh end at their next step
    tasks.append(asyncio.create_task(run_in_threadpool(preload_shard, resources, stop.is_set)))
    lists = resources.lists
    if settings.precompute_users > 0 or lists.after_events:

        def most_active_users() -> list[str]:
            model = resources.collab.current()
            listeners = most_active(model, resources.interactions, settings.precompute_users)
            return [user for user, _ in listeners.ranked]

        def refresh_lists() -> None:
            # Woken at once by new events; else a cheap check every few seconds.
            lists.wait_for_work(LISTS_CHECK_SECONDS)
            if stop.is_set() or not resources.database.ready:
                return
            with resources.priority.background():  # its queries wait for requests
                lists.recompute_due(stop.is_set)
                if settings.precompute_users > 0:
                    lists.refresh_after_change(most_active_users, stop.is_set)

        tasks.append(asyncio.create_task(_every(0, "personal lists", refresh_lists)))
    try:
        yield
    finally:
        stop.set()  # a refresh ends after its current user, a preload after its read
        lists.wake()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(runner.close)
        if owner is not None:
            remove_owner(owner)
