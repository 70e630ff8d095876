"""The interaction store: what listeners did and what they were served, in one database.

`InteractionStore` is the contract the API, the CLI and training use; `SqlInteractionStore`
is its one implementation, the same SQLAlchemy code on SQLite and PostgreSQL (the dialect
only picks the ``INSERT … ON CONFLICT DO NOTHING`` construct, which both spell alike).

Every write is one transaction: a request's events are all stored or none are, and an
event whose ``(user_id, event_id)`` is already stored is skipped, so a client that retries
after a lost response records nothing twice. History is an indexed query, so every process
on the database sees an event as soon as it is committed and start-up reads nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import pandas as pd
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from core.interactions.database import (
    IMMEDIATE,
    create_database_engine,
    ensure_schema,
    unavailable_as_domain_error,
)
from core.interactions.tables import interactions, served, served_items

RECENT_PER_USER = 50


def utc_naive(moment: datetime | None) -> datetime:
    """Stored times are naive UTC; an aware time is converted, a naive one taken as UTC."""
    if moment is None:
        return datetime.now(UTC).replace(tzinfo=None)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class Interaction:
    user_id: str
    track_id: str
    weight: float = 1.0
    kind: str = "listen"
    event_time: datetime | None = None  # None: now
    event_id: str | None = None


@dataclass(frozen=True)
class Recorded:
    recorded: int
    duplicates: int


@dataclass(frozen=True)
class ServedList:
    """One personalised response, as logged for online evaluation."""

    request_id: str
    user_id: str
    track_ids: Sequence[str]  # in served order
    first_rank: int = 0  # the offset of the page (rank of track_ids[0])
    model_version: str | None = None
    ranker_version: str | None = None
    served_at: datetime | None = None  # None: now


def new_request_id() -> str:
    return str(uuid.uuid4())


class InteractionStore(Protocol):
    """What the rest of musicrec may ask of the interaction database."""

    def record(self, events: Iterable[Interaction]) -> Recorded: ...

    def recent(self, user_id: str, n: int = RECENT_PER_USER) -> list[str]: ...

    def users(self, limit: int, offset: int = 0) -> list[tuple[str, int]]: ...

    def count_users(self) -> int: ...

    def training_frame(self) -> pd.DataFrame: ...

    def log_served(self, served_list: ServedList) -> None: ...

    def close(self) -> None: ...


class SqlInteractionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @classmethod
    def open(
        cls,
        url: str,
        *,
        busy_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        migrate: bool = True,
    ) -> SqlInteractionStore:
        """An engine on `url`; with `migrate`, an older schema is upgraded first and a newer
        one refused (DatabaseError)."""
        engine = create_database_engine(
            url, busy_timeout=busy_timeout, connect_timeout=connect_timeout
        )
        if migrate:
            ensure_schema(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # --- writes ----------------------------------------------------------------------------
    def _insert_ignoring_duplicates(self) -> Any:  # postgresql's or sqlite's own Insert
        dialect = postgresql if self.dialect == "postgresql" else sqlite
        return (
            dialect.insert(interactions)
            .on_conflict_do_nothing(index_elements=["user_id", "event_id"])
            .returning(interactions.c.id)
        )

    def record(self, events: Iterable[Interaction]) -> Recorded:
        """Store all the events in one transaction (all or none); already stored event ids
        are skipped and counted as duplicates."""
        now = utc_naive(None)
        rows = [
            {
                "user_id": e.user_id,
                "track_id": e.track_id,
                "weight": float(e.weight),
                "kind": e.kind,
                "event_time": utc_naive(e.event_time) if e.event_time else now,
                "received_at": now,
                "event_id": e.event_id,
            }
            for e in events
        ]
        if not rows:
            return Recorded(0, 0)
        with (
            unavailable_as_domain_error("cannot record interactions"),
            self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            stored = conn.execute(self._insert_ignoring_duplicates(), rows).all()
        return Recorded(len(stored), len(rows) - len(stored))

    def log_served(self, served_list: ServedList) -> None:
        """Log one served list (its tracks with their ranks) in one transaction."""
        s = served_list
        with (
            unavailable_as_domain_error("cannot log served recommendations"),
            self.engine.connect().execution_options(**{IMMEDIATE: True}) as conn,
            conn.begin(),
        ):
            conn.execute(
                insert(served),
                {
                    "request_id": s.request_id,
                    "user_id": s.user_id,
                    "model_version": s.model_version,
                    "ranker_version": s.ranker_version,
                    "served_at": utc_naive(s.served_at),
                },
            )
            if s.track_ids:
                conn.execute(
                    insert(served_items),
                    [
                        {"request_id": s.request_id, "rank": s.first_rank + i, "track_id": t}
                        for i, t in enumerate(s.track_ids)
                    ],
                )

    # --- reads -----------------------------------------------------------------------------
    def recent(self, user_id: str, n: int = RECENT_PER_USER) -> list[str]:
        """The user's `n` most recent distinct tracks, newest first (an index range scan)."""
        latest = func.max(interactions.c.event_time)
        query = (
            select(interactions.c.track_id)
            .where(interactions.c.user_id == user_id)
            .group_by(interactions.c.track_id)
            .order_by(latest.desc(), func.max(interactions.c.id).desc())
            .limit(n)
        )
        with unavailable_as_domain_error("cannot read a history"), self.engine.connect() as conn:
            return list(conn.scalars(query))

    def users(self, limit: int, offset: int = 0) -> list[tuple[str, int]]:
        """Users with their number of distinct tracks, most first (ties by id)."""
        n = func.count(interactions.c.track_id.distinct())
        query = (
            select(interactions.c.user_id, n)
            .group_by(interactions.c.user_id)
            .order_by(n.desc(), interactions.c.user_id)
            .limit(limit)
            .offset(offset)
        )
        with unavailable_as_domain_error("cannot list users"), self.engine.connect() as conn:
            return [(user, int(count)) for user, count in conn.execute(query)]

    def count_users(self) -> int:
        query = select(func.count(interactions.c.user_id.distinct()))
        with unavailable_as_domain_error("cannot count users"), self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def count_events(self) -> int:
        with unavailable_as_domain_error("cannot count events"), self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(interactions)) or 0)

    def count_events_since(self, since: datetime | None) -> int:
        """Events this database received after `since` (all of them for None): how much is
        new since a model was trained."""
        query = select(func.count()).select_from(interactions)
        if since is not None:
            query = query.where(interactions.c.received_at > utc_naive(since))
        with unavailable_as_domain_error("cannot count events"), self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def training_frame(self) -> pd.DataFrame:
        """Every interaction as ``user_id, track_id, weight, timestamp`` (what
        `core.interactions.files.read_interactions` returns for a file), oldest first."""
        query = select(
            interactions.c.user_id,
            interactions.c.track_id,
            interactions.c.weight,
            interactions.c.event_time.label("timestamp"),
        ).order_by(interactions.c.id)
        with unavailable_as_domain_error("cannot read interactions"), self.engine.connect() as c:
            frame = pd.read_sql(query, c)
        return frame.astype({"user_id": "string", "track_id": "string", "weight": "float32"})
