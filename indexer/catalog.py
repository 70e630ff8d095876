"""Stream a track catalog CSV into validated `Track` batches.

The real catalog (Kaggle "Spotify Songs with Attributes and Lyrics") is about a million rows
and over a gigabyte, with multi-line lyrics and the odd broken row. So the reader streams,
reports every bad row with the physical line it starts on instead of aborting, and keeps the
bytes it has consumed so a progress bar can follow the file size.

Other CSV layouts (the TidyTuesday Spotify dump) are read by the same code through a column
mapping, so a fix to parsing reaches every schema at once.
"""

from __future__ import annotations

import ast
import collections
import csv
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from core.csvio import csv_reader
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

# A lyrics field beyond this is not a song text but a broken quote swallowing the file.
MAX_FIELD_BYTES = 10 * 1024 * 1024
# ast.literal_eval on a huge or deeply nested literal can exhaust memory or the stack.
_MAX_ARTISTS_LITERAL = 10_000

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

_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_MODES = {"major": 1, "maj": 1, "minor": 0, "min": 0}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class RowError:
    line: int
    track_id: str | None
    reason: str


@dataclass
class CatalogStats:
    rows: int = 0
    accepted: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)

    def summary(self) -> str:
        total = sum(self.rejected.values())
        text = f"{self.rows} rows read: {self.accepted} accepted, {total} rejected"
        if total:
            kinds = ", ".join(f"{n} {kind}" for kind, n in self.rejected.most_common())
            text += f" ({kinds})"
        return text


class CatalogError(ValueError):
    """The file as a whole cannot be read; single bad rows never raise this."""


class _RowRejected(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class _CountingReader(io.RawIOBase):
    """Counts the bytes pulled from disk, so progress follows the file size, not decoded text."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self._raw = raw
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)
        self.consumed += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


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
) -> Iterator[list[Track]]:
    """Yield lists of at most `chunk_size` tracks; whole-file problems raise at call time.

    The header is checked eagerly (before the first chunk is requested) so a wrong path or
    schema is reported where the call is made, not deep inside the consumer's loop.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    path = Path(path)
    if not path.is_file():
        raise CatalogError(f"catalog file not found: {path}")
    try:
        with _open_text(path)[1] as text:
            header = next(csv_reader(text), None)
    except (OSError, csv.Error) as exc:
        raise CatalogError(f"cannot read the header of {path}: {exc}") from exc
    if not header:
        raise CatalogError(f"catalog file is empty (no header line): {path}")
    name = detect_schema(header) if schema == "auto" else schema
    columns = _column_plan(header, name)
    return _iter_chunks(path, columns, len(header), chunk_size, on_error, on_progress, stats)


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
) -> Iterator[list[Track]]:
    stats = stats if stats is not None else CatalogStats()
    # Every id seen so far (~200 MB for a million rows): needed to name the first occurrence.
    first_line: dict[str, int] = {}
    reported = 0

    def reject(line: int, track_id: str | None, kind: str, reason: str) -> None:
        stats.rejected[kind] += 1
        if on_error is not None:
            on_error(RowError(line=line, track_id=track_id, reason=reason))

    def progress() -> None:
        nonlocal reported
        if on_progress is not None and counter.consumed > reported:
            on_progress(counter.consumed - reported)
            reported = counter.consumed

    counter, text = _open_text(path)
    with text:
        reader = csv_reader(text)
        next(reader, None)  # header, already checked
        chunk: list[Track] = []
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                stats.rows += 1
                kind = "field too large" if "field limit" in str(exc) else "malformed csv"
                reject(line, None, kind, f"malformed CSV record: {exc}")
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line: not a record
            stats.rows += 1
            track_id = _guess_id(row, columns)
            try:
                track = _parse_row(row, columns, n_columns)
            except _RowRejected as exc:
                reject(line, track_id, exc.kind, exc.reason)
                continue
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
        progress()
        if chunk:
            yield chunk


def _open_text(path: Path) -> tuple[_CountingReader, io.TextIOWrapper]:
    counter = _CountingReader(path.open("rb", buffering=0))
    # newline="" as the csv module requires, so quoted newlines inside lyrics survive intact.
    text = io.TextIOWrapper(
        io.BufferedReader(counter), encoding="utf-8-sig", errors="replace", newline=""
    )
    return counter, text


def _norm_col(name: str) -> str:
    return name.strip().lower()


def _guess_id(row: list[str], columns: list[tuple[int, str]]) -> str | None:
    """Best-effort id for error reports, even when the row is otherwise unusable."""
    for index, target in columns:
        if target == "id" and index < len(row):
            return row[index].strip() or None
    return None


def _parse_row(row: list[str], columns: list[tuple[int, str]], n_columns: int) -> Track:
    if len(row) != n_columns:
        raise _RowRejected(
            "wrong column count", f"wrong column count: expected {n_columns}, got {len(row)}"
        )
    too_big = [(row[i], target) for i, target in columns if len(row[i]) > MAX_FIELD_BYTES // 4]
    for value, target in too_big:
        size = len(value.encode("utf-8", errors="replace"))
        if size > MAX_FIELD_BYTES:
            raise _RowRejected(
                "field too large",
                f"field '{target}': {size} bytes exceeds the {MAX_FIELD_BYTES}-byte limit",
            )

    raw = {target: row[index].strip() for index, target in columns}
    track_id = raw.get("id", "")
    if not track_id:
        raise _RowRejected("missing id", "field 'id': missing or empty")

    audio = _parse_audio(raw)
    year = _parse_int(raw, "year")
    release_date = raw.get("release_date") or None
    if year is None and release_date and release_date[:4].isdigit():
        year = int(release_date[:4])
    lyrics_index = next((i for i, t in columns if t == "lyrics"), None)
    lyrics = row[lyrics_index] if lyrics_index is not None else None
    try:
        return Track(
            id=track_id,
            name=raw.get("name", ""),
            artists=_parse_artists(raw.get("artists", "")),
            album_name=raw.get("album_name") or None,
            album_url=raw.get("album_url") or None,
            popularity=_parse_int(raw, "popularity"),
            year=year,
            genre=raw.get("genre") or None,
            explicit=_parse_bool(raw.get("explicit", "")),
            release_date=release_date,
            lyrics=lyrics if lyrics and lyrics.strip() else None,
            audio=audio,
        )
    except ValidationError as exc:  # pragma: no cover - the parsing above guards each field
        raise _RowRejected("invalid row", f"invalid row: {exc.errors()[0]['msg']}") from exc


def _parse_audio(raw: dict[str, str]) -> dict[str, float] | None:
    """All-or-nothing: a half-filled audio vector would be imputed silently downstream."""
    values = {f: raw.get(f, "") for f in AUDIO_CATALOG_FEATURES}
    missing = [f for f, v in values.items() if not v]
    if len(missing) == len(values):
        return None
    if missing:
        raise _RowRejected("partial audio", f"partial audio features: missing {', '.join(missing)}")
    audio: dict[str, float] = {}
    for name, value in values.items():
        if name == "key":
            audio[name] = float(_parse_key(value))
        elif name == "mode":
            audio[name] = float(_parse_mode(value))
        else:
            audio[name] = _parse_float(name, value)
    return audio


def _parse_float(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _RowRejected(
            "bad number", f"field '{name}': cannot parse {_clip(value)!r} as a number"
        ) from None
    if not math.isfinite(number):
        raise _RowRejected("bad number", f"field '{name}': {value!r} is not a finite number")
    return number


def _parse_int(raw: dict[str, str], name: str) -> int | None:
    value = raw.get(name, "")
    if not value:
        return None
    number = _parse_float(name, value)
    if not number.is_integer():
        raise _RowRejected("bad number", f"field '{name}': {value!r} is not a whole number")
    return int(number)


def _parse_key(value: str) -> int:
    """Pitch class from a number or a note name; Spotify's -1 (no key detected) is rejected."""
    note = value.strip()
    if note[:1].upper() in _PITCH_CLASSES and all(c in _ACCIDENTALS for c in note[1:]):
        return (_PITCH_CLASSES[note[0].upper()] + sum(_ACCIDENTALS[c] for c in note[1:])) % 12
    number = _parse_float("key", value)
    if not number.is_integer() or not 0 <= number <= 11:
        raise _RowRejected(
            "bad value", f"field 'key': {value!r} is not a pitch class 0..11 or a note name"
        )
    return int(number)


def _parse_mode(value: str) -> int:
    word = _MODES.get(value.strip().lower())
    if word is not None:
        return word
    number = _parse_float("mode", value)
    if number not in (0.0, 1.0):
        raise _RowRejected("bad value", f"field 'mode': {value!r} is not 0/1 or major/minor")
    return int(number)


def _parse_bool(value: str) -> bool | None:
    word = value.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def _parse_artists(value: str) -> list[str]:
    """Kaggle stores artists as a Python list literal; anything else is one plain name."""
    text = value.strip()
    if not text:
        return []
    if text.startswith("[") and text.endswith("]") and len(text) <= _MAX_ARTISTS_LITERAL:
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            parsed = None
        if isinstance(parsed, list | tuple):
            return [str(a).strip() for a in parsed if a is not None and str(a).strip()]
    return [text]


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
