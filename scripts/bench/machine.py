"""The machine a benchmark runs on: load average, process memory by mapping, and a hard
memory limit (a cgroup) to serve under."""

from __future__ import annotations

import os
from pathlib import Path


def proc_status_mb(pid: int | str, *keys: str) -> list[float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return [int(fields[k].split()[0]) / 1024 for k in keys]


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident set size of a process in MiB."""
    current, peak = proc_status_mb(pid, "VmRSS", "VmHWM")
    return current, peak


def rss_by_mapping(pid: int | str) -> dict[str, float]:
    """Resident MiB by what is mapped: anonymous memory, each Qdrant segment file kind
    (vector storage, quantized vectors, HNSW links, …), other files (shared libraries)."""
    totals: dict[str, float] = {}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
            path = head[5] if len(head) > 5 else ""
            if "/segments/" in path:
                kind = "segment " + Path(path).name
            elif path.startswith("/"):
                kind = "other files"
            else:
                kind = "anonymous"
        elif line.startswith("Rss:"):
            totals[kind] = totals.get(kind, 0.0) + int(line.split()[1]) / 1024
    return {k: round(v) for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v >= 5}


def load_text() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# --- over HTTP ------------------------------------------------------------------------------
class MemoryLimit:
    """A cgroup with a hard memory limit for the API process (cgroup v2, or v1's memory
    controller).

    VmRSS counts clean file pages — vectors memory-mapped from disk, the HNSW graphs, shared
    libraries — that the kernel drops under memory pressure, so it overstates what a process
    needs. Serving under a hard limit shows what it needs: the kernel reclaims those pages to
    stay under it, and kills the process if what remains does not fit. The page cache is
    dropped first: a page already cached by an earlier run stays charged to whoever read it
    first, and the limit would not see it.
    """

    def __init__(self, limit_mb: int) -> None:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        root = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
        self.v2 = v2
        self.path = root / f"musicrec-bench-{os.getpid()}"
        try:
            self.path.mkdir(exist_ok=True)
            limit = str(limit_mb * 2**20)
            (self.path / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3")
        except OSError as exc:
            raise SystemExit(
                f"--memory-limit-mb needs a writable memory cgroup under {root} (root, cgroup v1 "
                f"memory controller or v2) and /proc/sys/vm/drop_caches: {exc}"
            ) from exc

    def enter(self) -> None:
        """Runs in the child between fork and exec: everything the API allocates is charged."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def stats(self) -> dict[str, float]:
        def read(name: str) -> str:
            return (self.path / name).read_text()

        if self.v2:
            peak = int(read("memory.peak")) if (self.path / "memory.peak").exists() else 0
            events = dict(line.split() for line in read("memory.events").splitlines())
            return {"cgroup_peak_mb": peak / 2**20, "oom_kills": float(events["oom_kill"])}
        oom = dict(line.split() for line in read("memory.oom_control").splitlines())
        return {
            "cgroup_peak_mb": int(read("memory.max_usage_in_bytes")) / 2**20,
            "oom_kills": float(oom.get("oom_kill", 0)),
        }

    def remove(self) -> None:
        self.path.rmdir()
