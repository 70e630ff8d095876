"""One SQLAlchemy engine for the interaction database, and its Alembic schema versions.

SQLite (the default, embedded) runs in WAL mode so readers never wait for the writer, with
``synchronous=FULL`` so a committed (acknowledged) transaction survives a crash, and a busy
timeout so concurrent writers queue instead of failing. Write transactions start with
``BEGIN IMMEDIATE``: taking the write lock up front avoids SQLite's deadlock when two readers
both try to upgrade to writers. PostgreSQL needs none of this; it gets pre-pinged connections
so a restarted server costs one failed request at most.

Migrations live in this package (``migrations/``) and run through Alembic's API inside one
transaction holding a lock (SQLite's write lock, PostgreSQL's advisory lock), so two API
processes starting together upgrade once. A database stamped with a revision this code does
not know was written by newer code: it is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x6D75_7369_6372_6563 >> 1  # "musicrec": the PostgreSQL advisory lock for upgrades
IMMEDIATE = "musicrec_immediate"  # execution option: start this transaction as a writer


class DatabaseError(RuntimeError):
    """The interaction database cannot be used as it is (wrong schema version)."""


class DatabaseUnavailableError(DatabaseError):
    """Unreachable, locked past the busy timeout, or out of disk: retry later (HTTP 503)."""


class DatabaseCorruptError(DatabaseUnavailableError):
    """The SQLite file is not a database or is damaged: it will not heal by itself."""


#: SQLite's primary result codes for a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB.
_DAMAGED = {11, 26}
#: sqlite3's message for a stored text that is not UTF-8 (it sets no result code for it).
_UNDECODABLE = "Could not decode to UTF-8"


@contextlib.contextmanager
def unavailable_as_domain_error(what: str) -> Iterator[None]:
    """Operational failures (connection, lock, disk full) become DatabaseUnavailableError;
    programming errors stay what they are."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseUnavailableError(f"{what}: {_first_line(exc)}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailableError(f"{what}: {_first_line(exc)}") from exc
        raise


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)


def create_database_engine(
    url: str, *, busy_timeout: float = 10.0, connect_timeout: float = 5.0
) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": busy_timeout})
        path = parsed.database or ":memory:"
        _configure_sqlite(engine, busy_timeout, path)
        _name_damaged_files(engine, path)
        return engine
    return create_engine(
        url, pool_pre_ping=True, connect_args={"connect_timeout": max(1, round(connect_timeout))}
    )


def _configure_sqlite(engine: Engine, busy_timeout: float, path: str) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:  # a DB-API connection: untyped
        # Take transaction control from the sqlite3 module so BEGIN is ours (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            _switch_to_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        except UnicodeDecodeError as exc:  # not a DB-API error: SQLAlchemy's hook never sees it
            raise _damaged_error(path, exc) from exc
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _busy(exc: BaseException) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _switch_to_wal(cursor: Any, busy_timeout: float) -> None:
    """WAL mode, retried while SQLite answers "database is locked" (at most `busy_timeout`).

    SQLite refuses the switch at once, without its busy handler, when the file is still in
    rollback mode (a new file: WAL is recorded in a header only the first write creates)
    and another connection holds the write lock, since waiting could deadlock. That is what
    two first connections to a new file meet while one of them creates the schema: the other
    failed its open with "cannot read the schema version: database is locked". Once the
    writer commits, the file is in WAL mode and the switch is a no-op."""
    for attempt in Retrying(
        retry=retry_if_exception(_busy),
        stop=stop_after_delay(busy_timeout),
        wait=wait_exponential_jitter(initial=0.005, max=0.1),
        reraise=True,
    ):
        with attempt:
            cursor.execute("PRAGMA journal_mode=WAL")


def _name_damaged_files(engine: Engine, path: str) -> None:
    """A damaged file fails anywhere (the first PRAGMA at connect, or any later query) with
    sqlite3's bare "file is not a database": this names the file and says what to do, as a
    domain error every caller (API, CLI) already translates. A damaged schema text or stored
    text can hold bytes that are not UTF-8: sqlite3 then raises a bare UnicodeDecodeError
    (decoding SQLite's own error message) or "Could not decode" (a value), which this names
    the same way; every text musicrec writes is valid UTF-8, so such bytes are damage."""

    @event.listens_for(engine, "handle_error")
    def _damaged(context: ExceptionContext) -> None:
        exc = context.original_exception
        code = getattr(exc, "sqlite_errorcode", None)
        corrupt = (
            isinstance(exc, sqlite3.DatabaseError) and code is not None and code & 0xFF in _DAMAGED
        )
        undecodable = isinstance(exc, UnicodeDecodeError) or (
            isinstance(exc, sqlite3.OperationalError) and _UNDECODABLE in str(exc)
        )
        if corrupt or undecodable:
            raise _damaged_error(path, exc) from exc


def _damaged_error(path: str, exc: BaseException) -> DatabaseCorruptError:
    return DatabaseCorruptError(
        f"the SQLite database {path} is damaged ({exc}): restore it from a backup, or "
        "move it aside to start an empty one (MUSICREC_DATABASE_URL names another)"
    )


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with unavailable_as_domain_error("cannot read the schema version"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_revision(current: str | None) -> bool:
    """True when the schema is behind (upgrade needed); raise if it is ahead of this code."""
    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head()
    if current == head:
        return False
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        raise DatabaseError(
            f"the database schema is at revision {current!r}, which this version of musicrec "
            f"does not know (its newest is {head!r}): it was written by newer code. Upgrade "
            "musicrec, or point MUSICREC_DATABASE_URL at another database."
        )
    return True


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to this code's head; returns (before, after). Safe to run
    concurrently: the second process waits for the lock, then finds nothing to do."""
    with (
        unavailable_as_domain_error("cannot upgrade the database"),
        engine.connect() as conn,
        conn.execution_options(**{IMMEDIATE: True}).begin(),
    ):
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = MigrationContext.configure(conn).get_current_revision()
        if check_revision(before):
            command.upgrade(_config(conn), "head")
    return before, head_revision()


def ensure_schema(engine: Engine) -> str:
    """Upgrade when behind (API start), refuse when ahead; returns the revision in use."""
    if check_revision(current_revision(engine)):
        upgrade(engine)
    return head_revision()
