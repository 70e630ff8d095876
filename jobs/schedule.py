"""When to retrain by itself: every MUSICREC_TRAIN_EVERY seconds and/or once
MUSICREC_TRAIN_AFTER_EVENTS interactions arrived since the last successful train job (both
off by default). The clock and the count come from the database's job record, so a restart,
or another worker on the same database, does not reset them; the training lock keeps two
trainers from running at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from core.interactions.jobs import JobStore
from core.interactions.store import SqlInteractionStore
from jobs.runner import JobRunner
from schemas.settings import Settings


class TrainSchedule:
    def __init__(self, settings: Settings, records: JobStore, events: SqlInteractionStore) -> None:
        self.every = settings.train_every
        self.after_events = settings.train_after_events
        self.records = records
        self.events = events
        self._since_start = time.time()  # the period's origin before any train job ran

    @property
    def enabled(self) -> bool:
        return self.every is not None or self.after_events is not None

    def due(self) -> str | None:
        """Why a train job should start now, or None."""
        if self.every is not None:
            last = self.records.last_train_start(succeeded_only=False)
            origin = last.replace(tzinfo=UTC).timestamp() if last else self._since_start
            if time.time() - origin >= self.every:
                return f"every {self.every:g} s"
        if self.after_events is not None:
            last = self.records.last_train_start(succeeded_only=True)
            new = self.events.count_events_since(last)
            if new >= self.after_events:
                return f"{new} new interactions (threshold {self.after_events})"
        return None

    def tick(self, runner: JobRunner) -> str | None:
        """Submit a train job when one is due and none is queued or running; its id."""
        if not self.enabled or runner.busy():
            return None
        reason = self.due()
        if reason is None:
            return None
        return runner.submit("train", {"trigger": reason, "at": datetime.now(UTC).isoformat()}).id
