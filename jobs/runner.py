"""Index and train jobs, one at a time, in one thread of the process that owns the store.

The API runs one `JobRunner` in its lifespan (the embedded shard has one owner, so its index
jobs write through the API's own store instance and its train jobs read it); `musicrec
worker` runs one for the retraining schedule with a Qdrant server. Requests keep being served
on other threads: the job thread encodes, trains and writes between them.

Every state change is recorded in the database (`core.interactions.jobs`), so `GET /jobs`
and a restart show what ran. A cancel is honoured between batches (index) or epochs and
ranker steps (train): every batch stored so far stays stored (a re-run resumes), and a
train job cancelled before it publishes publishes nothing. Train jobs take the database's
training lock, so two trainers on one database never train at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.encoders.base import Encoder
from core.interactions.jobs import JobKind, JobRecord, JobStore
from core.interactions.locks import train_lock
from core.store import VectorStore
from indexer.catalog import RowError
from indexer.pipeline import IndexReport
from jobs.index import IndexOptions, run_index
from jobs.train import train_on_collection
from schemas.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between two progress writes of a running job (the database is not a log).
PROGRESS_EVERY = 0.5


class JobCancelled(Exception):
    """Raised inside a job's own callbacks to stop it at the next safe point."""


class JobFailed(Exception):
    """A job that cannot run as asked (its message is the job's)."""


class _Running:
    """The running job's cancel flag, problems and throttled progress writes."""

    def __init__(self, records: JobStore, job_id: str, keep_errors: int) -> None:
        self.records = records
        self.job_id = job_id
        self.cancelled = threading.Event()
        self.keep_errors = keep_errors
        self.errors: list[dict[str, Any]] = []
        self.problems = 0
        self._written = 0.0

    def check(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled("cancelled")

    def problem(self, entry: dict[str, Any]) -> None:
        self.problems += 1
        if len(self.errors) < self.keep_errors:
            self.errors.append(entry)

    def row_error(self, err: RowError) -> None:
        self.problem(
            {"line": err.line, "track_id": (err.track_id or "")[:128], "reason": err.reason}
        )

    def cover_error(self, url: str, reason: str) -> None:
        self.problem({"url": url[:512], "reason": f"cover: {reason}"})

    def report(self, progress: float | None, counts: dict[str, Any], force: bool = False) -> None:
        self.check()
        now = time.monotonic()
        if force or now - self._written >= PROGRESS_EVERY:
            self._written = now
            self.records.progress(self.job_id, progress, counts, self.errors)


def index_counts(report: IndexReport) -> dict[str, Any]:
    return {
        "indexed": report.indexed,
        "unchanged": report.unchanged,
        "rejected": report.rejected,
        "missing": dict(report.missing),
    }


class JobRunner:
    def __init__(
        self,
        settings: Settings,
        store: VectorStore,
        records: JobStore,
        *,
        lyrics: Encoder | None = None,
        on_published: Callable[[dict[str, str]], None] | None = None,
        on_indexed: Callable[[], None] | None = None,
    ) -> None:
        """`lyrics`: the caller's loaded lyrics encoder, shared by index jobs.
        `on_published`: called with the versions a job published (the API reloads them).
        `on_indexed`: called after an index job, whatever its outcome (the API forgets its
        kept lists)."""
        self.settings = settings
        self.store = store
        self.records = records
        self.lyrics = lyrics
        self.on_published = on_published
        self.on_indexed = on_indexed
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._running: _Running | None = None
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Mark what a previous process left queued or running as interrupted, then start
        the job thread; returns how many were interrupted."""
        interrupted = self.records.interrupt_leftovers()
        if interrupted:
            log.warning("%d job(s) were interrupted by the previous stop", interrupted)
        self._thread = threading.Thread(target=self._loop, name="musicrec-jobs", daemon=True)
        self._thread.start()
        return interrupted

    @property
    def started(self) -> bool:
        return self._thread is not None

    def close(self, timeout: float = 30.0) -> None:
        """Cancel the running job and stop the thread (the job ends at its next safe point;
        past `timeout` the process exit interrupts it, and the next start says so)."""
        with self._guard:
            if self._running is not None:
                self._running.cancelled.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    # --- submitting --------------------------------------------------------------------
    def submit(self, kind: JobKind, params: dict[str, Any]) -> JobRecord:
        record = self.records.create(kind, params)
        self._queue.put(record.id)
        return record

    def busy(self) -> bool:
        """A job is running or waiting (the schedule does not pile train jobs up)."""
        return self._running is not None or not self._queue.empty()

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued job at once, ask a running one to stop; None when unknown."""
        if not self.records.cancel_queued(job_id):
            with self._guard:
                if self._running is not None and self._running.job_id == job_id:
                    self._running.cancelled.set()
        return self.records.get(job_id)

    # --- running -----------------------------------------------------------------------
    def _loop(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self._run(job_id)
            except Exception:  # the thread must outlive any job (a database hiccup included)
                log.exception("job %s could not be recorded", job_id)

    def _run(self, job_id: str) -> None:
        if not self.records.start(job_id):
            return  # cancelled while queued
        job = self.records.get(job_id)
        assert job is not None
        running = _Running(self.records, job_id, self.settings.job_errors_kept)
        with self._guard:
            self._running = running
        log.info("job %s (%s) started: %s", job_id, job.kind, job.params)
        try:
            counts, versions, message = (
                self._index(job, running) if job.kind == "index" else self._train(running)
            )
        except JobCancelled:
            self.records.finish(job_id, "cancelled", message="cancelled", errors=running.errors)
            log.info("job %s cancelled", job_id)
        except Exception as exc:
            self.records.finish(job_id, "failed", message=str(exc), errors=running.errors)
            log.warning("job %s failed: %s", job_id, exc)
        else:
            self.records.finish(
                job_id,
                "succeeded",
                message=message,
                counts=counts,
                errors=running.errors,
                versions=versions,
            )
            log.info("job %s succeeded: %s", job_id, message)
            if versions and self.on_published is not None:
                self.on_published(versions)
        finally:
            with self._guard:
                self._running = None
            if job.kind == "index" and self.on_indexed is not None:
                self.on_indexed()  # whatever its outcome: what it stored stays stored

    def _index(
        self, job: JobRecord, running: _Running
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        params = job.params
        path = Path(params["path"])

        def progress(done: int, size: int | None, report: IndexReport) -> None:
            running.report(done / size if size else None, index_counts(report))

        report = run_index(
            self.settings,
            self.store,
            path,
            IndexOptions(schema=params.get("schema", "auto"), force=bool(params.get("force"))),
            on_error=running.row_error,
            on_cover_error=running.cover_error,
            on_progress=progress,
            lyrics=self.lyrics,
        )
        assert report is not None
        counts = {
            **index_counts(report),
            "points": self.store.count(),
            "problems": running.problems,
        }
        return counts, {}, report.summary()

    def _train(self, running: _Running) -> tuple[dict[str, Any], dict[str, str], str]:
        epochs = self.settings.lightfm_epochs
        seen = [0]
        lines: list[str] = []

        def on_epoch(_epoch: int, _total: int) -> None:
            # LightFM is fitted twice, side by side (all events, and the ranker's feature share).
            seen[0] += 1
            running.report(min(0.9, seen[0] / (2 * epochs)), {"epochs": seen[0]})

        def say(line: str) -> None:
            lines.append(line)
            log.info("train: %s", line)
            running.check()

        with train_lock(self.records.engine) as held:
            if not held:
                raise JobFailed("another process is training on this database (training lock)")
            published = train_on_collection(self.settings, self.store, say, on_epoch)
        counts = {"epochs": seen[0]}
        message = lines[-1] if lines else "trained"
        if published.ranker is None:
            message = next((ln for ln in lines if ln.startswith("ranker not trained")), message)
        return counts, published.versions(), message
