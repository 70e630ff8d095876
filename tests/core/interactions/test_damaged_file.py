"""A damaged SQLite file, property-based: bytes flipped anywhere, pages zeroed, the file cut.

Every operation the API and the CLI run on the database (open with the schema check, record,
read a history, list users, the training frame, log a served list) either works or raises the
domain's `DatabaseError` naming the file, never sqlite3's bare "file is not a database" (which
stopped the API with a traceback naming nothing, and made `musicrec db` print tracebacks).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.interactions.database import DatabaseCorruptError, DatabaseError
from core.interactions.store import Interaction, ServedList, SqlInteractionStore

PAGE = 4096


@pytest.fixture(scope="module")
def good_db(module_dir) -> Path:
    path = module_dir / "good.db"
    store = SqlInteractionStore.open(f"sqlite:///{path}")
    store.record(
        Interaction(f"u{i % 17}", f"t{i % 53}", 1.0, "listen", event_id=f"e{i}") for i in range(400)
    )
    store.log_served(ServedList("r1", "u1", [f"t{i}" for i in range(10)]))
    store.close()
    with sqlite3.connect(path) as conn:  # one self-contained file: no WAL beside it
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


def use(path: Path) -> None:
    store = SqlInteractionStore.open(f"sqlite:///{path}")
    try:
        store.record([Interaction("new", "t1", event_id="fresh")])
        store.recent("u1")
        store.users(limit=5)
        store.count_users()
        store.training_frame()
        store.log_served(ServedList("r2", "new", ["t1", "t2"]))
    finally:
        store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_damaged_database_file_is_named_never_a_raw_error(good_db, tmp_path, data) -> None:
    path = tmp_path / f"damaged-{data.draw(st.integers(0, 10**9))}.db"
    shutil.copyfile(good_db, path)
    raw = bytearray(path.read_bytes())
    how = data.draw(st.sampled_from(["flip", "zero page", "cut", "header"]), label="damage")
    if how == "flip":
        for _ in range(data.draw(st.integers(1, 20))):
            raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    elif how == "zero page":
        page = data.draw(st.integers(1, len(raw) // PAGE - 1))
        raw[page * PAGE : (page + 1) * PAGE] = bytes(PAGE)
    elif how == "cut":
        raw = raw[: data.draw(st.integers(1, len(raw) - 1))]
    else:
        raw[: data.draw(st.integers(1, 100))] = b"\x00" * 100
    path.write_bytes(bytes(raw))
    try:
        use(path)
    except DatabaseError as exc:
        if isinstance(exc, DatabaseCorruptError):
            assert str(path) in str(exc) and "restore it from a backup" in str(exc)
    except ValueError as exc:
        # SQLite has no checksums: a flipped byte inside a stored value (a timestamp's text)
        # is a valid file with a wrong value, found only when that value is read; the process
        # survives it (one request fails), and nothing else can tell it from a real value.
        assert how == "flip" and "isoformat" in str(exc), exc


def test_not_a_database_at_all_is_one_clear_error(tmp_path) -> None:
    path = tmp_path / "musicrec.db"
    path.write_bytes(b"this is no database " * 500)
    with pytest.raises(DatabaseCorruptError, match=rf"{path}.*is damaged.*not a database"):
        use(path)


def _with_bytes_replaced(good_db: Path, tmp_path: Path, find: bytes, offset: int) -> Path:
    path = tmp_path / "damaged.db"
    shutil.copyfile(good_db, path)
    raw = bytearray(path.read_bytes())
    at = raw.find(find)
    assert at >= 0, find
    raw[at + offset] = 0xB3  # never a UTF-8 start byte
    path.write_bytes(bytes(raw))
    return path


def test_schema_text_that_is_not_utf8_is_named(good_db, tmp_path) -> None:
    # sqlite3 fails decoding SQLite's own "malformed database schema (jobs) - near ..." and
    # raised a bare UnicodeDecodeError from the first PRAGMA (hypothesis found it in CI).
    table = b"CREATE TABLE jobs ("
    path = _with_bytes_replaced(good_db, tmp_path, table, len(table) - 1)
    with pytest.raises(DatabaseCorruptError, match=rf"{path} is damaged.*utf-8"):
        use(path)


def test_a_stored_text_that_is_not_utf8_is_named(good_db, tmp_path) -> None:
    path = _with_bytes_replaced(good_db, tmp_path, b"t52", 1)
    store = SqlInteractionStore.open(f"sqlite:///{path}")
    try:
        with pytest.raises(DatabaseCorruptError, match=rf"{path} is damaged.*decode"):
            store.training_frame()
    finally:
        store.close()
