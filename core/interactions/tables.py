"""The interaction database's tables, declared once (SQLAlchemy Core).

Alembic migrations in `migrations/versions/` create them; this module is what the queries use.
Times are naive UTC `DateTime` columns (readable in any SQL client on both SQLite and
PostgreSQL); the code converts every aware datetime to UTC before it is stored.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

ID_LENGTH = 128  # schemas.api.UserId / TrackId
EVENT_ID_LENGTH = 64

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

interactions = Table(
    "interactions",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("track_id", String(ID_LENGTH), nullable=False),
    Column("weight", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("event_time", DateTime, nullable=False, doc="When it happened (client or now)."),
    Column("received_at", DateTime, nullable=False, doc="When this database stored it."),
    Column("event_id", String(EVENT_ID_LENGTH), nullable=True, doc="Client id: dedupes retries."),
    # NULL event ids are distinct in both databases, so events without one are never merged.
    UniqueConstraint("user_id", "event_id"),
    Index(None, "user_id", "event_time"),
)

served = Table(
    "served",
    metadata,
    Column("request_id", String(36), primary_key=True),
    Column("user_id", String(ID_LENGTH), nullable=False),
    Column("model_version", String(128), nullable=True),
    Column("ranker_version", String(128), nullable=True),
    Column("served_at", DateTime, nullable=False),
    Index(None, "served_at"),
    Index(None, "user_id", "served_at"),
)

served_items = Table(
    "served_items",
    metadata,
    Column(
        "request_id",
        String(36),
        ForeignKey("served.request_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("rank", Integer, primary_key=True, doc="0-based position in the served list."),
    Column("track_id", String(ID_LENGTH), nullable=False),
)

imported_files = Table(
    "imported_files",
    metadata,
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("accepted", BigInteger, nullable=False),
    Column("imported_at", DateTime, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False, doc="index | train"),
    Column("state", String(16), nullable=False, doc="queued running succeeded failed …"),
    Column("runner", String(512), nullable=False, doc="Which process group may run it."),
    Column("params", JSON, nullable=False),
    Column("progress", Float, nullable=True, doc="0..1, None when unknown."),
    Column("counts", JSON, nullable=True),
    Column("errors", JSON, nullable=True, doc="The first problems, with row numbers."),
    Column("versions", JSON, nullable=True, doc="Artefact versions the job published."),
    Column("message", Text, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("finished_at", DateTime, nullable=True),
    Index(None, "state"),
    Index(None, "kind", "finished_at"),
)
