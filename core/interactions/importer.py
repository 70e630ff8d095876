"""Interaction logs (CSV/parquet) into the database: `musicrec interactions import FILE`, and
the one-time import of the CSV the API wrote before the database existed.

The file is read with `read_interactions`'s tolerant, line-numbered rules; rows whose ids the
API would refuse (control characters, over 128 characters) or whose timestamp is unreadable
are skipped and reported the same way. Each row gets an event id derived from the file's
name, its line and its content, so importing the same file twice (or a crash and a re-run)
stores every row once, while a file that has grown since adds only its new lines.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert, select

from core.interactions.database import unavailable_as_domain_error
from core.interactions.files import (
    InteractionIssue,
    InteractionsError,
    InteractionStats,
    read_interactions,
)
from core.interactions.store import Interaction, Recorded, SqlInteractionStore, utc_naive
from core.interactions.tables import ID_LENGTH, imported_files
from schemas.api import storable_id

log = logging.getLogger(__name__)
CHUNK = 10_000  # rows per transaction: a crash loses at most one chunk, which a re-run adds


def import_file(
    store: SqlInteractionStore,
    path: Path,
    *,
    on_issue: Callable[[InteractionIssue], None] | None = None,
    stats: InteractionStats | None = None,
) -> Recorded:
    """Import one log; raises InteractionsError only for a file that cannot be read at all."""
    stats = stats if stats is not None else InteractionStats()
    frame = read_interactions(path, on_issue=on_issue, stats=stats, with_lines=True)
    frame = _drop_unstorable(frame, stats, on_issue, "row" if _is_parquet(path) else "line")
    recorded = duplicates = 0
    for start in range(0, len(frame), CHUNK):
        result = store.record(_events(path.name, frame.iloc[start : start + CHUNK]))
        recorded += result.recorded
        duplicates += result.duplicates
    return Recorded(recorded, duplicates)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _drop_unstorable(
    frame: pd.DataFrame,
    stats: InteractionStats,
    on_issue: Callable[[InteractionIssue], None] | None,
    where: str,
) -> pd.DataFrame:
    """Skip (and report) rows the database would refuse; timestamps parsed to UTC."""
    reasons = [
        _why("user_id", user) or _why("track_id", track)
        for user, track in zip(frame["user_id"], frame["track_id"], strict=True)
    ]
    if "timestamp" in frame:
        text = frame["timestamp"].fillna("").astype(str).str.strip()
        parsed = pd.to_datetime(text.where(text != ""), utc=True, errors="coerce", format="mixed")
        for i, (raw, when) in enumerate(zip(text, parsed, strict=True)):
            if raw and pd.isna(when) and not reasons[i]:
                reasons[i] = f"unreadable timestamp: {raw[:40]!r}"
        frame = frame.assign(timestamp=parsed)
    bad = np.array([bool(r) for r in reasons], dtype=bool)
    lines = frame["line"].to_numpy()
    for reason, line in zip(np.asarray(reasons, dtype=object)[bad], lines[bad], strict=True):
        stats.rejected[reason.split(":")[0]] += 1
        stats.accepted -= 1
        if on_issue is not None:
            on_issue(InteractionIssue(f"{where} {line}", int(line), reason))
    return frame[~bad]


def _why(column: str, value: str) -> str:
    if len(value) > ID_LENGTH:
        return f"{column} too long: {len(value)} characters, at most {ID_LENGTH}"
    try:
        storable_id(value)
    except ValueError as exc:
        return f"{column} not storable: {exc}"
    return ""


def _events(name: str, frame: pd.DataFrame) -> list[Interaction]:
    times = frame["timestamp"] if "timestamp" in frame else pd.Series(pd.NaT, index=frame.index)
    return [
        Interaction(
            user_id=user,
            track_id=track,
            weight=float(weight),
            event_time=None if pd.isna(when) else when.to_pydatetime(),
            event_id=_event_id(name, int(line), track, float(weight), when),
        )
        for user, track, weight, when, line in zip(
            frame["user_id"],
            frame["track_id"],
            frame["weight"].to_numpy(dtype=np.float64),
            times,
            frame["line"],
            strict=True,
        )
    ]


def _event_id(name: str, line: int, track: str, weight: float, when: object) -> str:
    key = f"{name}\0{line}\0{track}\0{weight!r}\0{when}".encode("utf-8", "surrogatepass")
    return "import:" + hashlib.sha256(key).hexdigest()[:40]


def import_legacy_csv(store: SqlInteractionStore, path: Path | None) -> Recorded | None:
    """Import the API's old interactions CSV once: skipped while its size and mtime match
    the recorded import; None when there is nothing (new) to import. An unreadable file is
    logged and left for a later run, never a reason to refuse to start."""
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    key = str(path.resolve())
    with unavailable_as_domain_error("cannot read imports"), store.engine.connect() as conn:
        done = conn.execute(
            select(imported_files.c.size, imported_files.c.mtime_ns).where(
                imported_files.c.path == key
            )
        ).first()
    if done is not None and tuple(done) == (stat.st_size, stat.st_mtime_ns):
        return None
    result = Recorded(0, 0)
    stats = InteractionStats()
    if stat.st_size:  # a 0-byte file (a failed first write) holds nothing to import
        try:
            result = import_file(store, path, stats=stats)
        except InteractionsError as exc:
            log.error("legacy interactions not imported: %s", exc)
            return None
    log.warning("imported legacy %s into the database: %s", path, stats.summary())
    row = {
        "path": key,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "accepted": result.recorded,
        "imported_at": utc_naive(None),
    }
    with unavailable_as_domain_error("cannot record the import"), store.engine.begin() as conn:
        conn.execute(delete(imported_files).where(imported_files.c.path == key))
        conn.execute(insert(imported_files), row)
    return result
