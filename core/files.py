"""Atomic file replacement, the one way this project publishes a file others may read.

Model artefacts and their `latest` pointer, the embedded store's metadata, fetched covers and
enriched catalogs are all written to a temporary file in the target's directory, fsynced and
renamed over the target: a reader (or the next run after a crash) sees the old file or the new
one, never half of one. Written by hand because it is a dozen lines over `os.replace`; the
libraries that wrap it (atomicwrites) are unmaintained.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

#: Published files are readable by other users (an API replica under another uid reading the
#: shared model volume, a web server serving covers): mkstemp's 0600 is for the temp stage.
PUBLISHED_MODE = 0o644


@contextlib.contextmanager
def atomic_writer(path: str | Path, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """A file handle whose content replaces `path` only when the block exits normally."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), PUBLISHED_MODE)
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: str | Path, data: bytes) -> None:
    with atomic_writer(path, "wb") as handle:
        handle.write(data)


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # not every filesystem can fsync a directory
            os.fsync(fd)
    finally:
        os.close(fd)
