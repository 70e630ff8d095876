"""User↔track interaction logs (CSV or parquet), read tolerantly.

Interaction logs are written by other systems (and by our own `POST /interactions`), so a
bad row is reported with where it sits and skipped; only a file that cannot be read at all
(missing, wrong columns) raises. Unknown track ids are expected when the log is older or newer
than the catalog, so they are counted and skipped rather than treated as errors.
Files reach the database through `musicrec interactions import` (core.interactions.importer).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from core.csvio import ReadStats, csv_reader

__all__ = [
    "COLUMNS",
    "REQUIRED_COLUMNS",
    "InteractionIssue",
    "InteractionStats",
    "InteractionsError",
    "read_interactions",
    "tidytuesday_interactions",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("user_id", "track_id")
COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "weight", "timestamp")
_PARQUET_SUFFIXES = {".parquet", ".pq"}


class InteractionsError(ValueError):
    """The file as a whole cannot be used; single bad rows never raise this."""


@dataclass(frozen=True)
class InteractionIssue:
    """Where: ``line`` is the physical CSV line (header = 1) or the 1-based parquet row."""

    location: str
    line: int
    reason: str


@dataclass
class InteractionStats(ReadStats):
    unknown_track_ids: set[str] = field(default_factory=set)

    def summary(self) -> str:
        text = self.counts("interactions", "skipped")
        if self.unknown_track_ids:
            text += f"; {len(self.unknown_track_ids)} distinct unknown track ids"
        return text


def read_interactions(
    path: str | Path,
    *,
    known_track_ids: Collection[str] | None = None,
    on_issue: Callable[[InteractionIssue], None] | None = None,
    stats: InteractionStats | None = None,
    with_lines: bool = False,
) -> pd.DataFrame:
    """Frame with ``user_id, track_id, weight`` (+ ``timestamp`` when the file has one, and
    with `with_lines` the ``line`` each row came from, as issues report it).

    CSV or parquet by extension. A missing ``weight`` column or empty weight cell means one
    implicit positive (1.0); non-numeric, non-finite or negative weights drop the row.
    """
    path = Path(path)
    if not path.is_file():
        raise InteractionsError(f"interactions file not found: {path}")
    stats = stats if stats is not None else InteractionStats()
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        frame, lines, where = _read_parquet(path), None, "row"
    else:
        frame, lines, where = _read_csv(path, stats, on_issue)
    if lines is None:
        lines = np.arange(1, len(frame) + 1)

    def drop(mask: np.ndarray, kind: str, reasons: pd.Series) -> None:
        nonlocal frame, lines
        assert lines is not None  # numbered above
        if not mask.any():
            return
        stats.rejected[kind] += int(mask.sum())
        if on_issue is not None:
            for line, reason in zip(lines[mask], reasons[mask], strict=True):
                on_issue(InteractionIssue(f"{where} {line}", int(line), reason))
        frame, lines = frame[~mask], lines[~mask]

    stats.rows += len(frame)
    for column in REQUIRED_COLUMNS:
        frame[column] = frame[column].fillna("").astype(str).str.strip()
        empty = (frame[column] == "").to_numpy(dtype=bool)
        drop(empty, f"empty {column}", pd.Series(f"empty {column}", index=frame.index))
    weight, shown = _weights(frame)
    bad = ~np.isfinite(weight) | (weight < 0)
    frame = frame.assign(weight=weight.astype(np.float32))
    drop(bad, "bad weight", "weight " + shown + " is not a finite non-negative number")
    if known_track_ids is not None:
        known = known_track_ids if isinstance(known_track_ids, set) else set(known_track_ids)
        unknown = ~frame["track_id"].isin(known).to_numpy(dtype=bool)
        stats.unknown_track_ids.update(frame["track_id"][unknown])
        drop(unknown, "unknown track id", "unknown track id " + frame["track_id"].map(repr))
    stats.accepted += len(frame)
    keep = [c for c in COLUMNS if c in frame]
    frame = frame[keep].reset_index(drop=True)
    if with_lines:
        frame["line"] = np.asarray(lines, dtype=np.int64)
    return frame


def _weights(frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    """Parsed weights (NaN where unparseable) and the raw text to quote in reports."""
    if "weight" not in frame:
        return np.ones(len(frame)), pd.Series("", index=frame.index)
    raw = frame["weight"]
    if pd.api.types.is_numeric_dtype(raw):  # parquet: typed already; null means one positive
        return raw.astype("float64").fillna(1.0).to_numpy(), raw.astype(str)
    text = raw.fillna("").astype(str).str.strip()
    parsed = pd.to_numeric(text.where(text != "", "1"), errors="coerce")
    return parsed.astype("float64").to_numpy(), text.map(repr)


def _check_columns(header: Iterable[str], path: Path) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InteractionsError(
            f"interactions file {path} lacks required column(s) {missing}; "
            f"expected {list(REQUIRED_COLUMNS)} plus optional weight, timestamp; "
            f"header was {list(header)[:20]}"
        )


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a broken file
        raise InteractionsError(f"cannot read parquet file {path}: {exc}") from exc
    _check_columns(table.column_names, path)
    frame: pd.DataFrame = table.select([c for c in COLUMNS if c in table.column_names]).to_pandas()
    # Ids may be stored as integers by other tools; weights stay numeric-or-text for checking.
    for column in REQUIRED_COLUMNS:
        frame[column] = frame[column].astype("string")
    return frame


def _read_csv(
    path: Path, stats: InteractionStats, on_issue: Callable[[InteractionIssue], None] | None
) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The csv module (not pandas) so a ragged row is skipped with its line, not fatal."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as text:
        reader = csv_reader(text)
        header = [c.strip().lower() for c in next(reader, [])]
        _check_columns(header, path)
        wanted = [(header.index(c), c) for c in COLUMNS if c in header]
        rows: dict[str, list[str]] = {c: [] for _, c in wanted}
        lines: list[int] = []
        for row in _records(reader):
            line = reader.line_num
            if len(row) != len(header):
                stats.rows += 1
                stats.rejected["wrong column count"] += 1
                if on_issue is not None:
                    reason = f"expected {len(header)} fields, got {len(row)}"
                    on_issue(InteractionIssue(f"line {line}", line, reason))
                continue
            for index, column in wanted:
                rows[column].append(row[index])
            lines.append(line)
    return pd.DataFrame(rows, dtype="string"), np.asarray(lines, dtype=np.int64), "line"


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    for row in reader:
        if row and any(cell.strip() for cell in row):
            yield row


def tidytuesday_interactions(path: str | Path) -> pd.DataFrame:
    """Each TidyTuesday playlist as a user, each membership one positive (duplicates merged)."""
    frame = pd.read_csv(path, usecols=["playlist_id", "track_id"], dtype="string")
    frame = frame.dropna().drop_duplicates()
    return pd.DataFrame(
        {
            "user_id": frame["playlist_id"].to_numpy(dtype=object),
            "track_id": frame["track_id"].to_numpy(dtype=object),
            "weight": np.ones(len(frame), dtype=np.float32),
        }
    )
