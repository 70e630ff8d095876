"""Versioned artefacts: publish atomically behind a pointer file, hot-reload, keep the last good.

The LightFM model and the learned ranker are both published the same way: a new file named
``<prefix>-<time>-<hash>.<ext>`` written with `core.files.atomic_write`, then a pointer file
(``latest``, ``ranker-latest``) replaced atomically to name it. A reader follows the pointer;
a crash at any point leaves the previous artefact served. `ArtefactHolder` is the serving side:
it checks the pointer every `reload_seconds`, loads a newer artefact beside the old one and
swaps in one assignment (requests in flight finish on the one they started with); a broken
artefact is reported in `error` and the old one keeps serving.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from core.files import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")


class ArtefactError(RuntimeError):
    """An artefact is unreadable or of an unknown format version."""


def publish(directory: Path, prefix: str, suffix: str, blob: bytes, pointer: str) -> Path:
    """Write `blob` as a new versioned file, then point `pointer` at it; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    name = f"{prefix}-{stamp}-{hashlib.sha256(blob).hexdigest()[:12]}{suffix}"
    atomic_write(directory / name, blob)
    atomic_write(directory / pointer, (name + "\n").encode())
    return directory / name


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
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> bool:
        """Load the artefact the pointer names if it is not the one serving; True if swapped."""
        with self._lock:
            self._checked = time.monotonic()
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
            log.info("%s: %s loaded", self.pointer, name)
            return True

    def current(self) -> T | None:
        if time.monotonic() - self._checked >= self.reload_seconds:
            self.reload()
        return self.model

    @property
    def version(self) -> str | None:
        return self._version


class Fixed(Generic[T]):
    """A holder of one in-memory artefact (training and evaluation): no file, no reload."""

    def __init__(self, model: T | None, version: str | None = "in-memory") -> None:
        self.model = model
        self.error: str | None = None
        self.version = version if model is not None else None

    def current(self) -> T | None:
        return self.model
