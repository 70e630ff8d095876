"""The embedded shard's files read into the operating system's page cache at start-up, so
that the first queries after a start do not wait on the disk.

Why: Qdrant Edge reads vectors, graphs and payloads through memory-mapped files. After a
reboot, a restore, or once the kernel has evicted them, the first touch of each page inside
a request is a read from disk (a major page fault) while the engine holds the GIL: a large
share of a computed personalised request on a big catalog (docs/performance.md, "Cold
pages"). One sequential read of the files turns those faults
into minor ones. The pages belong to the kernel's page cache (shared and reclaimable), not to
the process, and nothing is read when the files exceed the budget: a shard larger than the
memory would only evict itself.

Written by hand: a loop of buffered reads. The tools that do this (vmtouch, PostgreSQL's
pg_prewarm) are not Python libraries, and `os.posix_fadvise(WILLNEED)` leaves the reading to
the kernel's readahead, with nothing to report when it is done. A read releases the GIL, so
the API answers requests while it runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.store.base import VectorStore

CHUNK = 1 << 20  # bytes per read
MIB = 1 << 20


@dataclass(frozen=True)
class Preload:
    """What a preload did: the files' total size, the bytes read, and, when it read
    nothing or stopped early, why."""

    files: int
    size: int
    read: int
    seconds: float
    skipped: str | None = None

    def describe(self) -> str:
        """One line for a log or a benchmark's report."""
        if self.skipped:
            return f"shard files not preloaded ({self.skipped})"
        return (
            f"shard files preloaded into the page cache: {self.files} files, "
            f"{self.read / MIB:.0f} MiB in {self.seconds:.1f} s"
        )


#: (limit, usage) file names of a memory cgroup: v2, then v1's memory controller.
_CGROUP_FILES = (
    ("memory.max", "memory.current"),
    ("memory.limit_in_bytes", "memory.usage_in_bytes"),
)
_NO_LIMIT = 1 << 60  # v1 reports "no limit" as a huge number, v2 as "max"


def _memory_cgroups(proc_cgroup: Path, root: Path) -> list[Path]:
    """The directories of this process's memory cgroup and of its ancestors (a limit may be
    set on any of them), from /proc/self/cgroup: v2's unified line (`0::/path`) when the
    unified hierarchy is mounted at `root`, v1's memory controller (`N:memory:/path`)."""
    dirs: list[Path] = []
    for line in proc_cgroup.read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (root / "cgroup.controllers").exists():
            base = root
        elif "memory" in controllers.split(","):
            base = root / "memory"
        else:
            continue
        parts = PurePosixPath(path).parts[1:]
        dirs += [base.joinpath(*parts[:i]) for i in range(len(parts), -1, -1)]
    return dirs


def cgroup_memory_left(
    proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Bytes this process's memory cgroups may still charge (the tightest limit less its
    usage, along the path to the root); None without a limit (or without cgroups)."""
    try:
        dirs = _memory_cgroups(proc_cgroup, root)
    except (OSError, ValueError):
        return None
    left: list[int] = []
    for directory in dirs:
        for limit_name, usage_name in _CGROUP_FILES:
            try:
                limit = (directory / limit_name).read_text().strip()
                usage = int((directory / usage_name).read_text())
            except (OSError, ValueError):
                continue
            if limit != "max" and int(limit) < _NO_LIMIT:
                left.append(max(int(limit) - usage, 0))
    return min(left) if left else None


def available_memory(
    meminfo: Path = Path("/proc/meminfo"),
    proc_cgroup: Path = Path("/proc/self/cgroup"),
    cgroup_root: Path = Path("/sys/fs/cgroup"),
) -> int | None:
    """Bytes the system could give now: the kernel's MemAvailable, capped by what this
    process's memory cgroup may still take (a container's limit, or a benchmark's, cgroup v1
    or v2); None where neither is readable."""
    found: list[int] = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    cgroup = cgroup_memory_left(proc_cgroup, cgroup_root)
    if cgroup is not None:
        found.append(cgroup)
    return min(found) if found else None


def budget_bytes(setting_mb: int | None) -> int:
    """MUSICREC_PRELOAD_STORE_MB in bytes; unset: half of the memory available now."""
    if setting_mb is not None:
        return setting_mb * MIB
    available = available_memory()
    return 0 if available is None else available // 2


def preload_store(
    store: VectorStore, setting_mb: int | None, stopped: Callable[[], bool] = lambda: False
) -> Preload:
    """The store's local files (none for a server) within MUSICREC_PRELOAD_STORE_MB."""
    return preload(store.local_files(), budget_bytes(setting_mb), stopped)


def preload(
    files: Sequence[Path], budget: int, stopped: Callable[[], bool] = lambda: False
) -> Preload:
    """Read every file once (files removed meanwhile, as a segment merged away, are
    skipped); nothing when they total more than `budget` bytes; `stopped` is checked between
    reads (shutdown)."""
    started = time.perf_counter()
    sizes: dict[Path, int] = {}
    for path in files:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            continue
    total = sum(sizes.values())

    def report(read: int, skipped: str | None = None) -> Preload:
        return Preload(len(sizes), total, read, time.perf_counter() - started, skipped)

    if total > budget:
        return report(
            0, f"the files take {total / MIB:.0f} MiB, over the budget of {budget / MIB:.0f} MiB"
        )
    buffer = bytearray(CHUNK)
    read = 0
    for path in sizes:
        try:
            with path.open("rb", buffering=0) as f:
                while n := f.readinto(buffer):
                    read += n
                    if stopped():
                        return report(read, "stopped")
        except OSError:
            continue
    return report(read)
