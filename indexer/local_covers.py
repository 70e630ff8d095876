"""Covers a catalog names as local files, kept inside one directory.

A catalog's ``album_url`` may be a path relative to the catalog file (``covers/x.jpg``, the
way a page links an image next to it) or a ``file://`` URL, and the file must lie under the
allowed covers directory (`MUSICREC_COVER_LOCAL_DIR`, relative to the catalog file; default
its ``covers/`` directory). A catalog is hostile input and a path is a way out of that
directory: ``..``, an absolute path, a ``file://`` URL to elsewhere or a symlink planted in the
directory would let a catalog make the indexer read any file the process can read, and the
API then serve it from the cover cache. So:

* `LocalCoverDir.canonical` checks each local ``album_url`` when the reader parses its row (a
  refusal rejects the row and names its line, like any bad value) and turns it into the
  canonical ``file://`` URL of the real file: the cache key (unique, where a relative path
  would name a different file for every catalog) and what the fetcher reads;
* `read_local_cover` opens that URL component by component without following any symlink,
  refuses anything but a regular file and reads at most ``max_bytes``; decoding and the pixel
  bound are the fetcher's, the same as for a download.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

__all__ = ["LocalCoverDir", "is_local_cover", "read_local_cover"]

REMOTE_SCHEMES = frozenset({"http", "https"})


def is_local_cover(album_url: str) -> bool:
    """A path (no scheme) or a ``file:`` URL; other schemes stay the fetcher's to refuse."""
    scheme = urlsplit(album_url).scheme.lower()
    return scheme == "file" or (scheme == "" and not album_url.startswith("//"))


class LocalCoverDir:
    """The covers directory of one catalog file."""

    def __init__(self, catalog: Path, covers_dir: Path) -> None:
        self.base = Path(os.path.abspath(catalog.parent))
        self.root = Path(os.path.normpath(self.base / covers_dir))  # absolute stays absolute
        self.real_root = Path(os.path.realpath(self.root))

    def canonical(self, album_url: str) -> str:
        """The ``file://`` URL of the cover ``album_url`` names; ValueError says why not.

        A file that does not exist (yet) passes: like a 404 it is the fetcher's to report,
        and the track is indexed without a cover until it appears.
        """
        if any(ord(c) < 32 or c == "\x7f" for c in album_url):
            raise ValueError("local cover path contains control characters")
        if "\\" in album_url:
            raise ValueError(f"local cover path {album_url!r} contains '\\' (use '/')")
        if urlsplit(album_url).scheme.lower() == "file":
            path = self._file_url_path(album_url)
        elif album_url.startswith("/"):
            raise ValueError(
                f"local cover path {album_url!r} is absolute: name it relative to the "
                "catalog file, or as a file:// URL inside the covers directory"
            )
        else:
            parts = PurePosixPath(album_url).parts
            if ".." in parts:
                raise ValueError(f"local cover path {album_url!r} contains '..'")
            path = self.base.joinpath(*parts)
        for root in (self.root, self.real_root):
            if path.is_relative_to(root) and path != root:
                return self.real_root.joinpath(*self._below(root, path, album_url)).as_uri()
        raise ValueError(
            f"local cover {album_url!r} is outside the covers directory "
            f"{self.root.name or self.root}/ (MUSICREC_COVER_LOCAL_DIR)"
        )

    def _file_url_path(self, album_url: str) -> Path:
        parts = urlsplit(album_url)
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise ValueError(f"file URL {album_url!r} must be file:///absolute/path")
        path = unquote(parts.path)
        if "\x00" in path or ".." in PurePosixPath(path).parts:
            raise ValueError(f"file URL {album_url!r} contains '..' or a NUL byte")
        return Path(os.path.normpath(path))

    def _below(self, root: Path, path: Path, album_url: str) -> tuple[str, ...]:
        """The parts of ``path`` below ``root``, none of them a symlink (a link inside the
        directory may point anywhere; the directory itself may be one)."""
        rest = path.relative_to(root).parts
        current = self.real_root
        for part in rest:
            current = current / part
            try:
                mode = current.lstat().st_mode
            except OSError:  # missing (or under a file): the fetcher reports it
                break
            if stat.S_ISLNK(mode):
                raise ValueError(f"local cover {album_url!r} goes through a symlink")
        return rest


def read_local_cover(url: str, max_bytes: int) -> bytes:
    """The bytes of a canonical ``file://`` cover URL, opened without following symlinks at
    any component (so a link swapped in after the reader's check is refused too), a regular
    file only (a FIFO or a device would block or never end), at most ``max_bytes``.

    Raises ValueError with a message for the per-URL cover report.
    """
    path = PurePosixPath(unquote(urlsplit(url).path))
    if not path.is_absolute() or ".." in path.parts or len(path.parts) < 2:
        raise ValueError("invalid local cover URL (not an absolute file:// path)")
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, part in enumerate(path.parts[1:], start=2):
            last = i == len(path.parts)
            parent, fd = fd, -1  # _open_below closes the parent, even when it fails
            fd = _open_below(
                parent, part, os.O_RDONLY | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            )
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"file larger than {max_bytes} bytes")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(max_bytes + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"file larger than {max_bytes} bytes")
    return data


def _open_below(dir_fd: int, name: str, flags: int) -> int:
    """Open ``name`` in ``dir_fd`` without following a symlink; ``dir_fd`` is closed either
    way, so the caller holds one descriptor at a time (-1 after a failure)."""
    try:
        return os.open(name, flags | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        raise ValueError("no such file") from None
    except OSError as exc:
        # O_NOFOLLOW meeting a symlink: ELOOP, or ENOTDIR when a directory was asked for.
        if exc.errno == errno.ELOOP or (
            exc.errno == errno.ENOTDIR
            and stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        ):
            raise ValueError("refused: the path goes through a symlink") from None
        if exc.errno == errno.ENOTDIR:
            raise ValueError("no such file (a path component is not a directory)") from None
        raise ValueError(f"cannot open ({exc.strerror})") from None
    finally:
        os.close(dir_fd)
