"""One catalog row → a validated `Track`, or a rejection naming the field.

Anything a catalog holds is hostile until checked: every number must parse, be finite and lie
in the range Spotify documents for it (a little wider where real catalogs go past it), and ids
are capped at the API's 128 characters. One absurd value (``tempo`` = 1e308, ``popularity`` =
1e30) would otherwise be stored and break every response or vector that touches it.
"""

from __future__ import annotations

import ast
import math
from datetime import UTC, datetime

from pydantic import ValidationError

from core.csvio import without_nul
from schemas.api import storable_id
from schemas.layout import AUDIO_CATALOG_FEATURES
from schemas.tracks import Track

__all__ = ["MAX_FIELD_BYTES", "MAX_ID_LENGTH", "PLAUSIBLE_RANGES", "RowRejected", "parse_row"]

# A lyrics field beyond this is not a song text but a broken quote swallowing the file.
MAX_FIELD_BYTES = 10 * 1024 * 1024
# The API refuses longer ids (schemas.api.TrackId): a longer one could never be fetched.
MAX_ID_LENGTH = 128
# ast.literal_eval on a huge or deeply nested literal can exhaust memory or the stack.
_MAX_ARTISTS_LITERAL = 10_000
FIRST_YEAR = 1900

# Spotify's documented ranges (Web API: audio features and track object). Real values reach
# 249 BPM and +5 dB; the bounds leave room above that but refuse absurd ones. `key` -1 ("no
# key detected") is refused separately: it has no place on the pitch circle.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(
        (
            "danceability",
            "energy",
            "speechiness",
            "acousticness",
            "instrumentalness",
            "liveness",
            "valence",
        ),
        (0.0, 1.0),
    ),
    "tempo": (0.0, 300.0),
    "loudness": (-60.0, 10.0),
    "duration_ms": (0.0, 24 * 3600 * 1000.0),  # and > 0: see _POSITIVE
    "popularity": (0.0, 100.0),
}

# Fields whose lower bound is excluded: a track lasts some time.
_POSITIVE = frozenset({"duration_ms"})

_PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTALS = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_MODES = {"major": 1, "maj": 1, "minor": 0, "min": 0}
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


class RowRejected(Exception):
    """The row is skipped; ``kind`` groups rejects in the summary, ``reason`` names the field."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def guess_id(row: list[str], columns: list[tuple[int, str]]) -> str | None:
    """Best-effort id for error reports, even when the row is otherwise unusable."""
    for index, target in columns:
        if target == "id" and index < len(row):
            return row[index].strip() or None
    return None


def parse_row(row: list[str], columns: list[tuple[int, str]], n_columns: int) -> Track:
    if len(row) != n_columns:
        raise RowRejected(
            "wrong column count", f"wrong column count: expected {n_columns}, got {len(row)}"
        )
    too_big = [(row[i], target) for i, target in columns if len(row[i]) > MAX_FIELD_BYTES // 4]
    for value, target in too_big:
        size = len(value.encode("utf-8", errors="replace"))
        if size > MAX_FIELD_BYTES:
            raise RowRejected(
                "field too large",
                f"field '{target}': {size} bytes exceeds the {MAX_FIELD_BYTES}-byte limit",
            )

    raw = {
        target: row[index].strip() if target == "id" else without_nul(row[index]).strip()
        for index, target in columns
    }
    track_id = raw.get("id", "")
    if not track_id:
        raise RowRejected("missing id", "field 'id': missing or empty")
    try:
        storable_id(track_id)  # what the API refuses as a seed is never indexed
    except ValueError as exc:
        raise RowRejected("bad id", f"field 'id': {exc}") from None
    if len(track_id) > MAX_ID_LENGTH:
        raise RowRejected(
            "id too long",
            f"field 'id': {len(track_id)} characters, over the {MAX_ID_LENGTH} the API accepts",
        )

    audio = _parse_audio(raw)
    years = (FIRST_YEAR, datetime.now(UTC).year + 1)
    year = _parse_int(raw, "year", years)
    release_date = raw.get("release_date") or None
    if year is None and release_date and release_date[:4].isdigit():
        # Derived, not given: an implausible date ("0000-01-01") leaves the year unknown.
        year = int(release_date[:4]) if years[0] <= int(release_date[:4]) <= years[1] else None
    lyrics_index = next((i for i, t in columns if t == "lyrics"), None)
    lyrics = without_nul(row[lyrics_index]) if lyrics_index is not None else None
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
        raise RowRejected("invalid row", f"invalid row: {exc.errors()[0]['msg']}") from exc


def _parse_audio(raw: dict[str, str]) -> dict[str, float] | None:
    """All-or-nothing: a half-filled audio vector would be imputed silently downstream."""
    values = {f: raw.get(f, "") for f in AUDIO_CATALOG_FEATURES}
    missing = [f for f, v in values.items() if not v]
    if len(missing) == len(values):
        return None
    if missing:
        raise RowRejected("partial audio", f"partial audio features: missing {', '.join(missing)}")
    audio: dict[str, float] = {}
    for name, value in values.items():
        if name == "key":
            audio[name] = float(_parse_key(value))
        elif name == "mode":
            audio[name] = float(_parse_mode(value))
        else:
            audio[name] = _parse_float(name, value)
    return audio


def _parse_float(name: str, value: str, bounds: tuple[float, float] | None = None) -> float:
    """A finite number within ``bounds`` (default: the field's PLAUSIBLE_RANGES entry)."""
    try:
        number = float(value)
    except ValueError:
        raise RowRejected(
            "bad number", f"field '{name}': cannot parse {_clip(value)!r} as a number"
        ) from None
    if not math.isfinite(number):
        raise RowRejected("bad number", f"field '{name}': {value!r} is not a finite number")
    low, high = bounds or PLAUSIBLE_RANGES.get(name, (-math.inf, math.inf))
    if not low <= number <= high or (name in _POSITIVE and number <= low):
        above = f"above {low:g} up to {high:g}" if name in _POSITIVE else f"{low:g}..{high:g}"
        raise RowRejected(
            "out of range",
            f"field '{name}': {_clip(value)!r} is outside the plausible range {above}",
        )
    return number


def _parse_int(
    raw: dict[str, str], name: str, bounds: tuple[float, float] | None = None
) -> int | None:
    value = raw.get(name, "")
    if not value:
        return None
    number = _parse_float(name, value, bounds)
    if not number.is_integer():
        raise RowRejected("bad number", f"field '{name}': {value!r} is not a whole number")
    return int(number)


def _parse_key(value: str) -> int:
    """Pitch class from a number or a note name; Spotify's -1 (no key detected) is rejected."""
    note = value.strip()
    if note[:1].upper() in _PITCH_CLASSES and all(c in _ACCIDENTALS for c in note[1:]):
        return (_PITCH_CLASSES[note[0].upper()] + sum(_ACCIDENTALS[c] for c in note[1:])) % 12
    number = _parse_float("key", value)
    if not number.is_integer() or not 0 <= number <= 11:
        raise RowRejected(
            "bad value", f"field 'key': {value!r} is not a pitch class 0..11 or a note name"
        )
    return int(number)


def _parse_mode(value: str) -> int:
    word = _MODES.get(value.strip().lower())
    if word is not None:
        return word
    number = _parse_float("mode", value)
    if number not in (0.0, 1.0):
        raise RowRejected("bad value", f"field 'mode': {value!r} is not 0/1 or major/minor")
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
