"""The owner file: which API process holds an embedded shard, and where to reach it.

Qdrant Edge lets one process open a shard. The API that holds it writes
``<qdrant_path>/<collection>.owner.json`` (its URL, pid and host) at start and removes it at
stop, so `musicrec index` / `musicrec train` can hand their work to that process instead of
failing on the lock. A file left by a killed API is stale: its pid is gone on this host (the
CLI then finds the shard free), or its URL does not answer (the caller checks).
`shard_in_use` asks the engine's own lock instead, for a shard no owner file names.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from core.files import atomic_write


@dataclass(frozen=True)
class Owner:
    url: str
    pid: int
    host: str


def owner_path(qdrant_path: Path, collection: str) -> Path:
    return Path(qdrant_path) / f"{collection}.owner.json"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_owner(path: Path, url: str) -> Owner:
    owner = Owner(url=url, pid=os.getpid(), host=socket.gethostname())
    atomic_write(path, json.dumps(asdict(owner)).encode())
    return owner


def remove_owner(path: Path) -> None:
    """At stop: only our own file (a newer owner's is left alone)."""
    found = read_owner(path, check_alive=False)
    if found is not None and found.pid == os.getpid() and found.host == socket.gethostname():
        path.unlink(missing_ok=True)


def read_owner(path: Path, *, check_alive: bool = True) -> Owner | None:
    """The live owner, or None (no file, unreadable, or a dead pid on this host)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        owner = Owner(url=str(data["url"]), pid=int(data["pid"]), host=str(data["host"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if check_alive and owner.host == socket.gethostname() and not pid_alive(owner.pid):
        return None
    return owner


def shard_in_use(path: Path) -> bool:
    """Whether another handle (another process: the API, `musicrec index`) owns the shard at
    `path`, asked of the lock Qdrant Edge holds (an exclusive flock on its `wal` directory)
    without opening the shard: opening it beside a writer made that writer crash at its next
    flush (`tracker_journal.dat is shorter than expected`)."""
    wal = path / "wal"
    if not wal.exists():
        return False
    fd = os.open(wal, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
