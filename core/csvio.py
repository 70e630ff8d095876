"""Reading the CSV files people hand us (catalogs, interaction exports): written once.

Real exports carry NUL bytes (which poison the stores downstream: callers check each field, so
an id holding one is refused, never silently changed into another id), lyrics fields far beyond the
csv module's 128 KiB default field limit, and now and then a line saved as Windows-1252 /
latin-1 in an otherwise UTF-8 file. The csv module handles none of these by itself.
"""

from __future__ import annotations

import collections
import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CSV_FIELD_LIMIT", "csv_reader", "decoded_lines", "without_nul"]

# The csv module cannot recover after its own limit trips (it loses track of the open quote),
# so it gets a loose limit and callers reject smaller oversized fields cleanly themselves.
CSV_FIELD_LIMIT = 64 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


def without_nul(value: str) -> str:
    """A free-text field (a name, lyrics) without NUL bytes, which no database text holds."""
    return value.replace("\0", "") if "\0" in value else value


def csv_reader(lines: Iterable[str]) -> Any:
    """`csv.reader` over ``lines`` with the field limit raised. NUL bytes stay in the fields
    (Python 3.11's csv reads them): stripping them silently turned `bad-nul\\0-id` into
    `bad-nul-id`, which can collide with a real id; each caller decides per field.

    ``lines`` must come from a file opened with ``newline=""`` (or `decoded_lines`), as the
    csv module requires, so quoted newlines inside lyrics survive intact.
    """
    # Process-wide setting: only ever raised, so a concurrent reader is never cut short.
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    return csv.reader(lines)


def decoded_lines(
    raw: Iterable[bytes], on_not_utf8: Callable[[int], None] | None = None
) -> Iterator[str]:
    """Physical lines of a binary file (any iterable of byte lines) as text: UTF-8 (a leading
    BOM dropped), and a line that is not valid UTF-8 decoded as Windows-1252 instead of being
    mangled into U+FFFD.

    ``on_not_utf8(line_number)`` is told of each such line (1-based), so the reader can warn
    naming it. Lines keep their line endings, as the csv module needs.
    """
    for number, line in enumerate(raw, start=1):
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            if on_not_utf8 is not None:
                on_not_utf8(number)
            yield _legacy(line)


def _legacy(line: bytes) -> str:
    """cp1252 is latin-1 plus the printable 0x80-0x9F range Windows tools write; a line with
    one of the five bytes cp1252 leaves undefined is read as latin-1."""
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError:
        return line.decode("latin-1")


@dataclass
class ReadStats:
    """How a tolerant read went: rows seen, accepted, and rejected by reason."""

    rows: int = 0
    accepted: int = 0
    rejected: collections.Counter[str] = field(default_factory=collections.Counter)

    def counts(self, noun: str, dropped: str) -> str:
        total = sum(self.rejected.values())
        text = f"{self.rows} {noun} read: {self.accepted} accepted, {total} {dropped}"
        if total:
            text += " (" + ", ".join(f"{n} {k}" for k, n in self.rejected.most_common()) + ")"
        return text
