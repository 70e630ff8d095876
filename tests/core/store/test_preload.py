"""The embedded shard's files read into the page cache, checked with the kernel's own count of
cached pages (`fincore`, util-linux) after evicting them (`posix_fadvise(DONTNEED)`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.store.edge import EdgeStore
from core.store.preload import CHUNK, available_memory, budget_bytes, preload
from tests.core.store.contract import LAYOUT, make_points


def resident(files: list[Path]) -> int:
    """Bytes of the files in the page cache."""
    out = subprocess.run(
        ["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES", *map(str, files)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sum(int(line) for line in out.split())


def evict(files: list[Path]) -> None:
    os.sync()
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


@pytest.fixture
def cold_shard(tmp_path) -> list[Path]:
    """A closed shard with points whose files are out of the page cache."""
    if shutil.which("fincore") is None:
        pytest.skip("fincore (util-linux) is not installed")
    store = EdgeStore(tmp_path / "qdrant", "c")
    store.create(LAYOUT, {})
    store.upsert(make_points())
    files = store.local_files()
    store.close()
    evict(files)
    size = sum(p.stat().st_size for p in files)
    if resident(files) > size // 10:
        pytest.skip(f"{tmp_path} keeps its pages cached (tmpfs?): eviction cannot be checked")
    return files


def test_the_shard_files_are_every_file_under_its_directory(tmp_path) -> None:
    store = EdgeStore(tmp_path / "qdrant", "c")
    assert store.local_files() == []  # no shard yet
    store.create(LAYOUT, {})
    store.upsert(make_points())
    files = store.local_files()
    store.close()
    on_disk = sorted(p for p in (tmp_path / "qdrant" / "c").rglob("*") if p.is_file())
    assert files == on_disk and len(files) > 3


def test_preload_reads_every_file_into_the_page_cache(cold_shard) -> None:
    size = sum(p.stat().st_size for p in cold_shard)
    done = preload(cold_shard, budget=size)
    assert (done.files, done.size, done.read, done.skipped) == (len(cold_shard), size, size, None)
    assert resident(cold_shard) >= size - 4096 * len(cold_shard)  # a partial last page each


def test_files_over_the_budget_are_not_read(cold_shard) -> None:
    size = sum(p.stat().st_size for p in cold_shard)
    done = preload(cold_shard, budget=size - 1)
    assert done.read == 0
    assert done.skipped is not None and "over the budget" in done.skipped
    assert resident(cold_shard) <= size // 10


def test_a_stopped_preload_ends_at_its_next_read(tmp_path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"x" * (3 * CHUNK))
    done = preload([big], budget=10 * CHUNK, stopped=lambda: True)
    assert (done.read, done.skipped) == (CHUNK, "stopped")


def test_a_file_removed_meanwhile_is_skipped(tmp_path) -> None:
    kept = tmp_path / "kept"
    kept.write_bytes(b"abc")
    done = preload([tmp_path / "merged-away", kept], budget=CHUNK)
    assert (done.files, done.read, done.skipped) == (1, 3, None)


def test_the_budget_is_half_the_memory_available_under_a_cgroup_limit(tmp_path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 24000000 kB\nMemAvailable: 8000000 kB\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/box/app\n")
    root = tmp_path / "sys"
    assert available_memory(meminfo, proc, root) == 8_000_000 * 1024  # no cgroup files
    app = root / "box" / "app"
    app.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("memory\n")  # v2, unified
    (app / "memory.max").write_text("max\n")
    (app / "memory.current").write_text(f"{1 << 30}\n")
    assert available_memory(meminfo, proc, root) == 8_000_000 * 1024  # no limit
    (root / "box" / "memory.max").write_text(f"{4 << 30}\n")  # on the parent
    (root / "box" / "memory.current").write_text(f"{1 << 30}\n")
    assert available_memory(meminfo, proc, root) == 3 << 30  # the parent's limit, less its use
    (app / "memory.max").write_text(f"{2 << 30}\n")
    assert available_memory(meminfo, proc, root) == 1 << 30  # the tightest one

    proc.write_text("12:cpu,cpuacct:/x\n4:memory:/bench\n0::/\n")  # v1's memory controller
    v1 = tmp_path / "v1"
    (v1 / "memory" / "bench").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # none
    (v1 / "memory" / "memory.usage_in_bytes").write_text(f"{5 << 30}\n")
    (v1 / "memory" / "bench" / "memory.limit_in_bytes").write_text(f"{512 << 20}\n")
    (v1 / "memory" / "bench" / "memory.usage_in_bytes").write_text(f"{100 << 20}\n")
    assert available_memory(meminfo, proc, v1) == 412 << 20
    assert available_memory(tmp_path / "none", tmp_path / "none", tmp_path) is None
    assert budget_bytes(0) == 0 and budget_bytes(12) == 12 << 20
    available = available_memory()  # this machine's
    assert available is not None
    assert abs(budget_bytes(None) - available // 2) < 256 << 20  # memory moves between reads


def test_a_process_in_a_limited_memory_cgroup_gets_a_budget_under_its_limit() -> None:
    """A real cgroup (v2, or v1's memory controller) with a 256 MiB limit, as the benchmark's
    `--memory-limit-mb` and a container make, and a process started in it."""
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    group = (
        Path("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory") / f"musicrec-test-{os.getpid()}"
    )
    try:
        group.mkdir()
        (group / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(256 << 20))
    except OSError as exc:
        pytest.skip(f"no writable memory cgroup here ({exc})")
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "from core.store.preload import budget_bytes; print(budget_bytes(None))",
            ],
            preexec_fn=lambda: (group / "cgroup.procs").write_text(str(os.getpid())),
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[3],
        ).stdout
        assert 0 < int(out) <= 128 << 20
    finally:
        group.rmdir()
