"""The training lock: two trainers on one database (API replicas, `musicrec worker`s) never
train at once.

On PostgreSQL it is a session-level advisory lock held on a dedicated connection for the
whole run: the server releases it when that connection ends, so a killed trainer never
leaves it stuck. SQLite is one machine's file: an exclusive `flock` on a file beside the
database does the same (the kernel drops it with the process).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from core.interactions.database import unavailable_as_domain_error

_TRAIN_KEY = 0x6D75_7369_6372_7472 >> 1  # "musicrtr": distinct from the upgrade lock


@contextlib.contextmanager
def train_lock(engine: Engine) -> Iterator[bool]:
    """Yields True while this process holds the lock, False when another trainer has it
    (the caller skips its run instead of waiting)."""
    if engine.dialect.name == "postgresql":
        with unavailable_as_domain_error("cannot take the training lock"):
            conn = engine.connect()
        try:
            with unavailable_as_domain_error("cannot take the training lock"):
                held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _TRAIN_KEY}))
                conn.commit()
            try:
                yield held
            finally:
                if held:
                    with contextlib.suppress(Exception):  # a lost connection released it
                        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _TRAIN_KEY})
                        conn.commit()
        finally:
            conn.close()
        return
    database = engine.url.database
    path = Path(f"{database}.train-lock") if database and database != ":memory:" else None
    if path is None:
        yield True
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
