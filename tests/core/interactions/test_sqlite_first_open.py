"""Opening a new SQLite file while another connection holds its write lock.

A new file is in rollback mode until its first write records WAL in the header, and SQLite
refuses to switch such a file to WAL at once ("database is locked", its busy handler not
called) while another connection holds the write lock: two API processes (or threads)
opening a new database together met this while one of them created the schema. These hold
the lock with a plain sqlite3 connection, as the other opener would, and open through the
engine musicrec uses.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from core.interactions.database import (
    DatabaseUnavailableError,
    create_database_engine,
    current_revision,
)
from core.interactions.store import SqlInteractionStore


def _hold_write_lock(path: Path) -> sqlite3.Connection:
    """A connection in a write transaction on the (new, rollback-mode) file at `path`."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other_writer (x INTEGER)")
    return holder


def test_an_open_waits_for_the_writer_of_a_new_file_instead_of_failing(tmp_path) -> None:
    path = tmp_path / "new.db"
    holder = _hold_write_lock(path)
    released = threading.Timer(0.4, holder.commit)
    started = time.monotonic()
    released.start()
    try:
        store = SqlInteractionStore.open(f"sqlite:///{path}")
    finally:
        released.join()
        holder.close()
    waited = time.monotonic() - started
    try:
        assert store.users(10) == []
    finally:
        store.close()
    assert waited >= 0.35, f"the open returned after {waited:.2f} s, before the writer committed"
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_writer_that_never_lets_go_fails_the_open_after_the_busy_timeout(tmp_path) -> None:
    path = tmp_path / "new.db"
    holder = _hold_write_lock(path)
    engine = create_database_engine(f"sqlite:///{path}", busy_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnavailableError, match="database is locked"):
            current_revision(engine)
    finally:
        engine.dispose()
        holder.rollback()
        holder.close()
    assert 0.4 <= time.monotonic() - started < 5.0
