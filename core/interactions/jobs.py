"""The job record: what the API's job runner and `musicrec worker` ran, in the database.

A job is queued, then running, then one of succeeded / failed / cancelled; a job found
queued or running when its runner starts again was cut short by a crash and becomes
`interrupted`, so a restart shows what ran and what did not finish. `runner` names the
process group that may run the job (one embedded shard, or one worker schedule): a process
only declares its own runner's jobs interrupted, never another replica's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Engine, insert, select, update

from core.interactions.database import IMMEDIATE, unavailable_as_domain_error
from core.interactions.store import utc_naive
from core.interactions.tables import jobs

JobKind = Literal["index", "train"]
JobState = Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
ACTIVE: tuple[JobState, ...] = ("queued", "running")
FINISHED: tuple[JobState, ...] = ("succeeded", "failed", "cancelled", "interrupted")


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: JobKind
    state: JobState
    params: dict[str, Any]
    progress: float | None
    counts: dict[str, Any]
    errors: list[dict[str, Any]]
    versions: dict[str, str]
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        state=row.state,
        params=row.params or {},
        progress=row.progress,
        counts=row.counts or {},
        errors=row.errors or [],
        versions=row.versions or {},
        message=row.message,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


class JobStore:
    def __init__(self, engine: Engine, runner: str) -> None:
        self.engine = engine
        self.runner = runner

    def _write(self, statement: Any, what: str) -> int:
        with (
            unavailable_as_domain_error(what),
            self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            return conn.execute(statement).rowcount

    def create(self, kind: JobKind, params: dict[str, Any]) -> JobRecord:
        job_id = str(uuid.uuid4())
        self._write(
            insert(jobs).values(
                id=job_id,
                kind=kind,
                state="queued",
                runner=self.runner,
                params=params,
                created_at=utc_naive(None),
            ),
            "cannot record the job",
        )
        found = self.get(job_id)
        assert found is not None
        return found

    def start(self, job_id: str) -> bool:
        """queued → running; False when it was cancelled meanwhile."""
        return bool(
            self._write(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == "queued")
                .values(state="running", started_at=utc_naive(None), progress=0.0),
                "cannot start the job",
            )
        )

    def progress(
        self,
        job_id: str,
        progress: float | None,
        counts: dict[str, Any],
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        values: dict[str, Any] = {"progress": progress, "counts": counts}
        if errors is not None:
            values["errors"] = errors
        self._write(
            update(jobs).where(jobs.c.id == job_id, jobs.c.state == "running").values(**values),
            "cannot record the job's progress",
        )

    def finish(
        self,
        job_id: str,
        state: JobState,
        *,
        message: str | None = None,
        counts: dict[str, Any] | None = None,
        errors: list[dict[str, Any]] | None = None,
        versions: dict[str, str] | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state, "finished_at": utc_naive(None)}
        if state == "succeeded":
            values["progress"] = 1.0
        for name, value in (
            ("message", message),
            ("counts", counts),
            ("errors", errors),
            ("versions", versions),
        ):
            if value is not None:
                values[name] = value
        self._write(
            update(jobs).where(jobs.c.id == job_id, jobs.c.state.in_(ACTIVE)).values(**values),
            "cannot record the job's end",
        )

    def cancel_queued(self, job_id: str) -> bool:
        """A queued job is cancelled at once (nothing ran); True if it was queued."""
        return bool(
            self._write(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == "queued")
                .values(state="cancelled", finished_at=utc_naive(None)),
                "cannot cancel the job",
            )
        )

    def interrupt_leftovers(self) -> int:
        """At start: this runner's queued or running jobs were cut short (the process died)."""
        return self._write(
            update(jobs)
            .where(jobs.c.runner == self.runner, jobs.c.state.in_(ACTIVE))
            .values(
                state="interrupted",
                finished_at=utc_naive(None),
                message="the process running it stopped before it finished (crash or kill); "
                "submit it again: indexing resumes, training starts over",
            ),
            "cannot mark interrupted jobs",
        )

    def get(self, job_id: str) -> JobRecord | None:
        with unavailable_as_domain_error("cannot read the job"), self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return _record(row) if row is not None else None

    def list(self, limit: int = 50, state: JobState | None = None) -> list[JobRecord]:
        query = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit)
        if state is not None:
            query = query.where(jobs.c.state == state)
        with unavailable_as_domain_error("cannot list jobs"), self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def last_train_start(self, *, succeeded_only: bool) -> datetime | None:
        """When the newest train job (the newest successful one) was submitted: events
        received after a successful one started are not in the serving model."""
        query = (
            select(jobs.c.started_at if succeeded_only else jobs.c.created_at)
            .where(jobs.c.kind == "train")
            .order_by(jobs.c.created_at.desc())
            .limit(1)
        )
        if succeeded_only:
            query = query.where(jobs.c.state == "succeeded")
        with unavailable_as_domain_error("cannot read jobs"), self.engine.connect() as conn:
            return conn.scalar(query)
