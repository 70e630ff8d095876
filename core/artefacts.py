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
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import scipy.sparse as sp

from core.files import atomic_write

log = logging.getLogger(__name__)

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Holder(Protocol[T_co]):
    """What serves an artefact to its readers: `ArtefactHolder` (a published file, hot
    reloaded) or `Fixed` (one in memory: training, evaluation). Readers depend on this, so
    the same recommender runs on either."""

    @property
    def version(self) -> str | None: ...

    def current(self) -> T_co | None: ...

    def pinned(self) -> tuple[T_co | None, str | None]:
        """The artefact and its version, read together (a request snapshot's one read)."""
        ...


class ArtefactError(RuntimeError):
    """An artefact is unreadable or of an unknown format version."""


def checked_csr(
    name: str, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: np.ndarray
) -> sp.csr_matrix:
    """A CSR matrix from an artefact's parts, every invariant checked before it is used.

    scipy's constructor checks only the lengths: indices out of range or an indptr that is not
    monotonic pass, and the C++ products later read outside the arrays (SIGSEGV, "double
    free"). So: integer index arrays, finite data, then scipy's own full check. Raises
    ValueError naming the matrix."""
    dims = np.asarray(shape)
    if dims.shape != (2,) or not np.issubdtype(dims.dtype, np.integer) or (dims < 0).any():
        raise ValueError(f"{name}: shape must be two non-negative integers, got {dims!r}")
    for part, array in (("indices", indices), ("indptr", indptr)):
        if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name}: {part} must be a 1-d integer array, got {array.dtype}")
    if data.ndim != 1 or not np.issubdtype(data.dtype, np.number) or not np.isfinite(data).all():
        raise ValueError(f"{name}: data must be a 1-d array of finite numbers")
    rows, cols = (int(n) for n in dims)
    if len(indptr) != rows + 1 or len(indices) != len(data):
        raise ValueError(
            f"{name}: {len(indptr)} indptr entries for {rows} rows, "
            f"{len(indices)} indices for {len(data)} values"
        )
    matrix = sp.csr_matrix((data, indices, indptr), shape=(rows, cols))
    matrix.check_format(full_check=True)  # indices in range, indptr monotonic
    return matrix


def checked_ids(name: str, value: Any) -> list[str]:
    """A JSON list of distinct string ids (a track's or user's row in a matrix)."""
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise ValueError(f"{name}: expected a list of string ids")
    if len(set(value)) != len(value):
        raise ValueError(f"{name}: duplicate ids")
    return value


def expect_shape(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> None:
    """Arrays that must fit each other (a matrix and its row and column ids)."""
    if tuple(got) != tuple(want):
        raise ValueError(f"{name}: shape {tuple(got)} does not match {tuple(want)}")


def describe(exc: BaseException) -> str:
    """An error as /health names it: its kind and message (`zlib.error` says little alone)."""
    if isinstance(exc, ArtefactError):
        return str(exc)
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    return f"{name}: {exc}"


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
    ) -> None:
        self.directory = directory
        self.pointer = pointer
        self.reload_seconds = reload_seconds
        self._load = load
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
            except Exception as exc:  # any failure to load leaves the old one serving
                # A damaged file can fail in any layer (zip, zlib, numpy, JSON, LightGBM):
                # whatever it raises, it is named here and the last good artefact serves.
                self.error = describe(exc)
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
