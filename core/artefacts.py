"""Versioned artefacts: publish atomically behind a pointer file, hot-reload, keep the last good.

The LightFM model and the learned ranker are both published the same way: a new file named
``<prefix>-<time>-<hash>.<ext>`` written with `core.files.atomic_write`, then a pointer file
(``latest``, ``ranker-latest``) replaced atomically to name it. A reader follows the pointer;
a crash at any point leaves the previous artefact served. `ArtefactHolder` is the serving side:
`reload()` (called by the API's lifespan task every `reload_seconds`, or on every access when
that is 0) loads a newer artefact beside the old one and swaps it in one assignment (requests
in flight finish on the one they started with); a broken artefact is reported in `error` and
the old one keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from core.files import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")


class ArtefactError(RuntimeError):
    """An artefact is unreadable or of an unknown format version."""


def publish(
    directory: Path, prefix: str, suffix: str, blob: bytes, pointer: str, keep: int | None = None
) -> Path:
    """Write `blob` as a new versioned file, point `pointer` at it, then prune to the newest
    `keep` of that kind (None: keep all); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{prefix}-{stamp}-{hashlib.sha256(blob).hexdigest()[:12]}{suffix}"
    atomic_write(directory / name, blob)
    atomic_write(directory / pointer, (name + "\n").encode())
    if keep is not None:
        try:
            prune(directory, prefix, suffix, pointer, keep)
        except OSError as exc:  # the new artefact is published; a leftover file is no failure
            log.warning("old %s artefacts in %s not pruned: %s", prefix, directory, exc)
    return directory / name


def prune(directory: Path, prefix: str, suffix: str, pointer: str, keep: int) -> list[Path]:
    """Delete all but the newest `keep` artefacts of one kind (by the timestamp in their
    name), never the one `pointer` names; returns what was deleted. Other files stay."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    pattern = re.compile(
        rf"{re.escape(prefix)}-\d{{8}}T\d{{12}}Z-[0-9a-f]{{12}}{re.escape(suffix)}"
    )
    current = read_pointer(directory, pointer)
    artefacts = sorted(p for p in directory.iterdir() if pattern.fullmatch(p.name))
    doomed = [p for p in artefacts[:-keep] if p.name != current]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def read_pointer(directory: Path, pointer: str) -> str | None:
    """The file name `pointer` holds, or None when nothing was ever published."""
    path = directory / pointer
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtefactError(f"cannot read {path}: {exc}") from exc
    if not name or Path(name).name != name or name.startswith("."):
        raise ArtefactError(f"{path} does not name an artefact file: {name!r}")
    return name


class ArtefactHolder(Generic[T]):
    """The artefact a pointer names, swapped (never mutated) when the pointer moves."""

    def __init__(
        self,
        directory: Path,
        pointer: str,
        load: Callable[[Path], T],
        reload_seconds: float = 10.0,
        errors: tuple[type[Exception], ...] = (OSError, ValueError),
    ) -> None:
        self.directory = directory
        self.pointer = pointer
        self.reload_seconds = reload_seconds
        self._load = load
        self._errors = errors
        self.model: T | None = None
        self.error: str | None = None
        self._version: str | None = None
        self._pinned: tuple[T | None, str | None] = (None, None)
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> bool:
        """Load the artefact the pointer names if it is not the one serving; True if swapped."""
        with self._lock:
            try:
                name = read_pointer(self.directory, self.pointer)
                if name is None or name == self._version:
                    return False
                model = self._load(self.directory / name)
            except (ArtefactError, *self._errors) as exc:
                self.error = str(exc)
                log.error("%s not reloaded, the last good one keeps serving: %s", self.pointer, exc)
                return False
            self.model, self._version, self.error = model, name, None
            self._pinned = (model, name)  # one assignment: `pinned()` never sees a mix
            log.info("%s: %s loaded", self.pointer, name)
            return True

    def current(self) -> T | None:
        """The serving artefact. With `reload_seconds` 0 the pointer is checked on every call
        (tests, one-off tools); otherwise whoever owns the holder calls `reload()` on that
        schedule (the API's lifespan task), so no request pays for the check."""
        if self.reload_seconds == 0:
            self.reload()
        return self.model

    @property
    def version(self) -> str | None:
        return self._version

    def pinned(self) -> tuple[T | None, str | None]:
        """The serving artefact and its version, read together: `current()` then `version`
        can straddle a reload and pair one artefact with the other's name."""
        if self.reload_seconds == 0:
            self.reload()
        return self._pinned


class Fixed(Generic[T]):
    """A holder of one in-memory artefact (training and evaluation): no file, no reload."""

    def __init__(self, model: T | None, version: str | None = "in-memory") -> None:
        self.model = model
        self.error: str | None = None
        self.version = version if model is not None else None

    def current(self) -> T | None:
        return self.model

    def pinned(self) -> tuple[T | None, str | None]:
        return self.model, self.version
