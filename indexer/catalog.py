"""Stream a track catalog CSV into validated `Track` batches.

The real catalog (Kaggle "Spotify Songs with Attributes and Lyrics") is about a million rows
and over a gigabyte, with multi-line lyrics and the odd broken row. So the reader streams,
reports every bad row with the physical line it starts on instead of aborting (values are
checked in `indexer.track_row`), resynchronises after a record an unterminated quote broke,
reads a line that is not UTF-8 as Windows-1252 with a warning naming it, and keeps the bytes
it has consumed so a progress bar can follow the file size.

Other CSV layouts (the TidyTuesday Spotify dump) are read by the same code through a column
mapping, so a fix to parsing reaches every schema at once.
"""

from __future__ import annotations

import collections
import csv
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.csvio import ReadStats, csv_reader, decoded_lines
from indexer.local_covers import LocalCoverDir, is_local_cover
from indexer.track_row import MAX_FIELD_BYTES, RowRejected, guess_id, parse_row
from schemas.layout import AUDIO_CATALOG_FEATURES
from schemas.tracks import Track

__all__ = [
    "MAX_FIELD_BYTES",
    "SCHEMAS",
    "CatalogError",
    "CatalogStats",
    "RowError",
    "detect_schema",
    "read_catalog",
]

log = logging.getLogger(__name__)

# Kinds of reject that say the record itself is broken (not one of its values): the lines it
# spans are read again, to resynchronise.
_STRUCTURAL = frozenset({"malformed csv", "field too large", "wrong column count"})
_SHOWN_ENCODING_WARNINGS = 5

# source column -> Track field (audio feature names map to themselves and land in `audio`).
_KAGGLE: dict[str, str] = {
    "id": "id",
    "name": "name",
    "album_name": "album_name",
    "artists": "artists",
    "lyrics": "lyrics",
    "album_url": "album_url",
    "popularity": "popularity",
    "year": "year",
    "genre": "genre",
    "explicit": "explicit",
    "release_date": "release_date",
    **{f: f for f in AUDIO_CATALOG_FEATURES},
}
_TIDYTUESDAY: dict[str, str] = {
    "track_id": "id",
    "track_name": "name",
    "track_artist": "artists",
    "track_popularity": "popularity",
    "track_album_name": "album_name",
    "track_album_release_date": "release_date",
    "playlist_genre": "genre",
    **{f: f for f in AUDIO_CATALOG_FEATURES},
}
SCHEMAS: dict[str, dict[str, str]] = {"kaggle": _KAGGLE, "tidytuesday": _TIDYTUESDAY}


@dataclass(frozen=True)
class RowError:
    line: int
    track_id: str | None
    reason: str


@dataclass
class CatalogStats(ReadStats):
    not_utf8: int = 0  # lines read as Windows-1252/latin-1 (each logged, the first few)

    def summary(self) -> str:
        text = self.counts("rows", "rejected")
        if self.not_utf8:
            text += f"; {self.not_utf8} lines not UTF-8, read as Windows-1252/latin-1"
        return text


class CatalogError(ValueError):
    """The file as a whole cannot be read; single bad rows never raise this."""


class _Lines:
    """The file's physical lines, numbered, able to hand the lines of a broken record out
    again (see `_iter_chunks`)."""

    def __init__(self, raw: Iterable[bytes], on_not_utf8: Callable[[int], None]) -> None:
        self.taken: list[tuple[int, str]] = []  # the lines of the record being read
        self._lines = enumerate(decoded_lines(raw, on_not_utf8), start=1)
        self._replay: collections.deque[tuple[int, str]] = collections.deque()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        numbered = self._replay.popleft() if self._replay else next(self._lines)
        self.taken.append(numbered)
        return numbered[1]

    def replay(self, lines: list[tuple[int, str]]) -> None:
        self._replay.extendleft(reversed(lines))


def detect_schema(header: list[str]) -> str:
    """Decide from the header alone, so a wrong file fails before any row is read."""
    columns = {_norm_col(c) for c in header}
    if "id" in columns:
        return "kaggle"
    if "track_id" in columns:
        return "tidytuesday"
    raise CatalogError(
        "cannot tell the catalog schema from the header: missing required column "
        "'id' (kaggle schema) or 'track_id' (tidytuesday schema); header was "
        f"{header[:30]}"
    )


def read_catalog(
    path: str | Path,
    *,
    schema: str = "auto",
    chunk_size: int = 256,
    on_error: Callable[[RowError], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    stats: CatalogStats | None = None,
    cover_dir: str | Path = "covers",
) -> Iterator[list[Track]]:
    """Yield lists of at most `chunk_size` tracks; whole-file problems raise at call time.

    The header is checked eagerly (before the first chunk is requested) so a wrong path or
    schema is reported where the call is made, not deep inside the consumer's loop.
    A local `album_url` (a path relative to the catalog, or file://) must name a file under
    `cover_dir` (relative to the catalog's directory; `indexer.local_covers`): the track gets
    that file's canonical file:// URL, and a path out of the directory rejects the row.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    try:
        with path.open("rb") as raw:
            header = next(csv_reader(decoded_lines(raw)), None)
    except (OSError, csv.Error) as exc:
        raise CatalogError(f"cannot read the header of {path}: {exc}") from exc
    if not header or not any(cell.strip() for cell in header):
        raise CatalogError(f"catalog file is empty (no header line): {path}")
    name = detect_schema(header) if schema == "auto" else schema
    columns = _column_plan(header, name)
    covers = LocalCoverDir(path, Path(cover_dir))
    return _iter_chunks(
        path, columns, len(header), chunk_size, on_error, on_progress, stats, covers
    )


def _column_plan(header: list[str], schema: str) -> list[tuple[int, str]]:
    """Map header positions to Track fields, refusing headers no row could satisfy."""
    if schema not in SCHEMAS:
        raise CatalogError(f"unknown catalog schema {schema!r}; known: {sorted(SCHEMAS)}")
    mapping = SCHEMAS[schema]
    plan: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, column in enumerate(header):
        target = mapping.get(_norm_col(column))
        if target is not None and target not in seen:
            plan.append((index, target))
            seen.add(target)
    id_column = next(src for src, dst in mapping.items() if dst == "id")
    if "id" not in seen:
        raise CatalogError(
            f"catalog header lacks required column '{id_column}' for schema {schema!r}"
        )
    audio_present = [f for f in AUDIO_CATALOG_FEATURES if f in seen]
    if audio_present and len(audio_present) < len(AUDIO_CATALOG_FEATURES):
        # Every row with audio would be rejected as partial: say it once, for the file.
        missing = [f for f in AUDIO_CATALOG_FEATURES if f not in seen]
        raise CatalogError(
            f"catalog header has some audio columns but lacks {missing}; "
            "provide all audio features or none"
        )
    return plan


def _iter_chunks(
    path: Path,
    columns: list[tuple[int, str]],
    n_columns: int,
    chunk_size: int,
    on_error: Callable[[RowError], None] | None,
    on_progress: Callable[[int], None] | None,
    stats: CatalogStats | None,
    covers: LocalCoverDir,
) -> Iterator[list[Track]]:
    """The records of the file as chunks of Tracks, every bad record reported with its line.

    A structurally broken record spanning several lines (an unterminated quote swallows every
    line up to the next quote, or up to the end of the file) is rejected, and the lines it
    swallowed are read again: reading resynchronises at the next line that parses as a row,
    and the one reject says how many lines were skipped to get there.
    """
    stats = stats if stats is not None else CatalogStats()
    # Every id seen so far (~200 MB for a million rows): needed to name the first occurrence.
    first_line: dict[str, int] = {}
    reported = 0
    broken: _Broken | None = None  # the broken record being resynchronised past

    def reject(line: int, track_id: str | None, kind: str, reason: str) -> None:
        stats.rejected[kind] += 1
        if on_error is not None:
            on_error(RowError(line=line, track_id=track_id, reason=reason))

    def resynchronised() -> None:
        nonlocal broken
        if broken is not None:
            reject(broken.line, broken.track_id, broken.kind, broken.message())
            broken = None

    def progress() -> None:
        nonlocal reported
        consumed = raw.tell()  # bytes taken from the file, as the progress bar counts them
        if on_progress is not None and consumed > reported:
            on_progress(consumed - reported)
            reported = consumed

    def not_utf8(line: int) -> None:
        stats.not_utf8 += 1
        if stats.not_utf8 <= _SHOWN_ENCODING_WARNINGS:
            log.warning("%s, line %d: not valid UTF-8; read as Windows-1252/latin-1", path, line)

    with path.open("rb") as raw:
        lines = _Lines(raw, not_utf8)
        reader = csv_reader(lines)
        next(reader, None)  # header, already checked
        chunk: list[Track] = []
        while True:
            lines.taken = []
            try:
                row: list[str] | None = next(reader)
                error: RowRejected | None = None
            except StopIteration:
                break
            except csv.Error as exc:
                row = None
                kind = "field too large" if "field limit" in str(exc) else "malformed csv"
                error = RowRejected(kind, f"malformed CSV record: {exc}")
            taken = lines.taken
            if row is not None and (not row or (len(row) == 1 and not row[0].strip())):
                continue  # blank line: not a record
            line = taken[0][0] if taken else 0
            track_id = guess_id(row, columns) if row is not None else None
            track: Track | None = None
            if error is None:
                assert row is not None
                try:
                    track = _local_cover(parse_row(row, columns, n_columns), covers)
                except RowRejected as exc:
                    error = exc
            if error is not None and error.kind in _STRUCTURAL:
                if broken is not None:  # still inside the region a broken record swallowed
                    broken.skipped += len(taken)
                    continue
                stats.rows += 1
                if len(taken) > 1:
                    broken = _Broken(line, track_id, error.kind, error.reason, len(taken))
                    lines.replay(taken[1:])
                    reader = csv_reader(lines)  # a fresh parser: no quote left open
                    continue
            else:
                resynchronised()
                stats.rows += 1
            if error is not None:
                reject(line, track_id, error.kind, error.reason)
                continue
            assert track is not None
            first = first_line.get(track.id)
            if first is not None:
                reject(
                    line,
                    track.id,
                    "duplicate id",
                    f"duplicate id {track.id!r}: first seen on line {first}, kept that one",
                )
                continue
            first_line[track.id] = line
            stats.accepted += 1
            chunk.append(track)
            if len(chunk) >= chunk_size:
                progress()
                yield chunk
                chunk = []
        resynchronised()
        progress()
        if chunk:
            yield chunk


def _local_cover(track: Track, covers: LocalCoverDir) -> Track:
    """The track with its local cover's canonical URL; a hostile path rejects the row."""
    if not track.album_url or not is_local_cover(track.album_url):
        return track
    try:
        url = covers.canonical(track.album_url)
    except ValueError as exc:
        raise RowRejected("bad cover path", f"field 'album_url': {exc}") from None
    return track.model_copy(update={"album_url": url})


@dataclass
class _Broken:
    """A multi-line record that did not parse, and the lines skipped past it so far."""

    line: int
    track_id: str | None
    kind: str
    reason: str
    spanned: int
    skipped: int = 0

    def message(self) -> str:
        if not self.skipped:
            return f"{self.reason} (spanning {self.spanned} lines; reading resumed on the next)"
        last = self.line + self.skipped
        return (
            f"{self.reason} (an unterminated quote?); lines {self.line + 1}-{last} "
            f"({self.skipped} lines) did not parse as rows either and were skipped"
        )


def _norm_col(name: str) -> str:
    return name.strip().lower()
