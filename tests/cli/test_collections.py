"""`musicrec collections`: migrate Qdrant Edge → qdrant-client's on-disk local mode (killed
mid-way and resumed), and list / info / drop / snapshot on both engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from cli.app import main
from core.store import PointRecord, StoreError
from core.store.admin import collection_info, list_collections, snapshot
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from core.store.migrate import MigrationError, bottom_k, copied_metadata, migrate, verify
from schemas.tracks import point_id
from schemas.vectors import SparseVector
from tests.core.store.contract import DIMS, LAYOUT, TERMS

ROOT = Path(__file__).resolve().parents[2]
N = 1500
METADATA = {"audio_scaler": {"mean": [0.5] * 11, "scale": [2.0] * 11}, "source": "demo.csv"}


def many_points(n: int = N) -> list[PointRecord]:
    """Dense vectors of both sizes, sparse terms on every other point, real-looking payloads."""
    rng = np.random.default_rng(7)
    points = []
    for i in range(n):
        vectors: dict = {name: rng.normal(size=dim).tolist() for name, dim in DIMS.items()}
        if i % 2:
            vectors[TERMS] = SparseVector.from_pairs([(7, 1.0), (1000 + i % 50, 0.5)])
        payload = {"track_id": f"t{i}", "genre": "pop", "year": 1960 + i % 60, "artists": ["a"]}
        points.append(PointRecord(point_id(f"t{i}"), vectors, payload))
    return points


@pytest.fixture
def edge_dir(tmp_path) -> Path:
    """A data dir whose embedded `tracks` collection holds N points (closed: unlocked)."""
    store = EdgeStore(tmp_path / "data" / "qdrant", "tracks")
    store.create(LAYOUT, METADATA)
    points = many_points()
    for start in range(0, N, 500):
        store.upsert(points[start : start + 500])
    store.close()
    return tmp_path / "data"


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "MUSICREC_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}


def _all(store) -> dict[str, PointRecord]:
    return {p.id: p for batch in store.scroll(512, with_vectors=True) for p in batch}


def test_migrate_killed_midway_resumes_to_an_identical_copy(
    edge_dir, tmp_path, capsys, monkeypatch
) -> None:
    target_dir = tmp_path / "target"
    url = f"file://{target_dir}"
    checkpoint = edge_dir / "migrate-tracks.json"
    cmd = [sys.executable, "-m", "cli", "collections", "migrate", "--to", url]
    proc = subprocess.Popen(
        [*cmd, "--batch-size", "10"], env=_env(edge_dir), stderr=subprocess.DEVNULL
    )
    copied_at_kill = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if checkpoint.exists():
            copied_at_kill = json.loads(checkpoint.read_text())["copied"]
            if copied_at_kill >= 100:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.005)
    assert proc.wait(30) == -signal.SIGKILL, "the copy finished before it could be killed"
    assert 100 <= copied_at_kill < N

    # Resumed in-process through the same CLI entry point.
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(edge_dir))
    assert main(["collections", "migrate", "--to", url, "--batch-size", "200"]) == 0
    out = capsys.readouterr().out
    assert "resumed after" in out and f"target holds {N}" in out and "64 sampled" in out
    assert not checkpoint.exists()  # verified, so the checkpoint is gone

    source = EdgeStore(edge_dir / "qdrant", "tracks")
    target = ClientStore(QdrantClient(path=str(target_dir)), "tracks", engine="local")
    try:
        assert target.count() == N
        assert copied_metadata(target.read_metadata()) == copied_metadata(source.read_metadata())
        assert target.layout() == LAYOUT
        mine, theirs = _all(source), _all(target)
        assert mine.keys() == theirs.keys()
        for pid in list(mine)[::37]:  # a sample of vectors, compared here independently
            a, b = mine[pid], theirs[pid]
            assert a.payload == b.payload and a.vectors.keys() == b.vectors.keys()
            for name in DIMS:
                np.testing.assert_allclose(a.vectors[name], b.vectors[name], rtol=1e-6)
            if TERMS in a.vectors:
                assert a.vectors[TERMS].as_dict() == pytest.approx(b.vectors[TERMS].as_dict())
    finally:
        source.close()
        target.close()


def test_migrate_refuses_an_existing_target_or_a_foreign_checkpoint(edge_dir, tmp_path) -> None:
    source = EdgeStore(edge_dir / "qdrant", "tracks")
    target = ClientStore(QdrantClient(location=":memory:"), "tracks")
    target.create(LAYOUT, {})
    target.upsert(many_points(3))
    checkpoint = tmp_path / "ck.json"
    kwargs = dict(source_name="edge", target_name="mem", batch_size=100)
    with pytest.raises(MigrationError, match="already exists"):
        migrate(source, target, checkpoint, **kwargs)
    assert target.count() == 3  # untouched
    checkpoint.write_text(json.dumps({"source": "other", "target": "mem", "copied": 1}))
    with pytest.raises(MigrationError, match="belongs to a copy from other"):
        migrate(source, target, checkpoint, **kwargs)
    target.drop()
    report = migrate(source, target, tmp_path / "fresh.json", **kwargs)
    assert (report.total, report.copied, report.resumed_at, report.sampled) == (N, N, 0, 64)
    source.close()


def test_verification_catches_a_differing_point(edge_dir, tmp_path) -> None:
    source = EdgeStore(edge_dir / "qdrant", "tracks")
    target = ClientStore(QdrantClient(location=":memory:"), "tracks")
    migrate(source, target, tmp_path / "ck.json", source_name="e", target_name="m")
    one = many_points()[3]
    target.upsert([PointRecord(one.id, one.vectors, {**one.payload, "genre": "x"})])
    with pytest.raises(MigrationError, match=f"point {one.id} differs"):
        verify(source, target, [many_points()[2].id, one.id])
    target.delete([one.id])
    with pytest.raises(MigrationError, match=f"target holds {N - 1} points"):
        verify(source, target, [])
    source.close()


def test_the_sample_does_not_depend_on_where_a_copy_was_interrupted() -> None:
    ids = [p.id for p in many_points(300)]
    whole = bottom_k(ids, 20)
    pieces: list[str] = []
    for start in range(0, 300, 7):  # batch by batch, as a resumed copy builds it
        pieces = bottom_k(pieces + ids[start : start + 7], 20)
    assert pieces == whole and len(whole) == 20


def test_info_list_snapshot_drop_on_edge(edge_dir, tmp_path, capsys, monkeypatch) -> None:
    store = EdgeStore(edge_dir / "qdrant", "tracks")
    assert list_collections(store) == ["tracks"]
    info = collection_info(store)
    assert info.points == N and info.disk_bytes and info.disk_bytes > 0
    assert info.vectors["lyrics"] == "16-d cosine, test-lyrics"
    assert "test-bm25" in info.vectors[TERMS]
    assert set(info.payload_indexes) == set(LAYOUT.payload_indexes)
    assert "HNSW" in info.index_status
    archive = Path(snapshot(store, tmp_path / "snaps"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "tracks/edge_config.json" in names and "tracks.musicrec.json" in names
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(edge_dir))
    assert main(["collections", "list"]) == 0
    assert capsys.readouterr().out == f"tracks\t{N} points\n"
    assert main(["collections", "info"]) == 0
    assert f"points      {N}" in capsys.readouterr().out
    assert main(["collections", "drop", "tracks", "--yes"]) == 0
    assert main(["collections", "list"]) == 0
    assert "no collections" in capsys.readouterr().err
    assert main(["collections", "info", "tracks"]) == 1  # gone: a clear error, exit 1


def test_info_on_the_client_path(tmp_path) -> None:
    target = ClientStore(QdrantClient(location=":memory:"), "c")
    target.create(LAYOUT, METADATA)
    target.upsert(many_points(50))
    assert list_collections(target) == ["c"]
    info = collection_info(target)
    assert info.points == 50 and info.cluster == {
        "shard_number": 1,
        "replication_factor": 1,
        "write_consistency_factor": 1,
    }
    assert info.vectors["audio"] == "13-d cosine, test-audio"
    with pytest.raises(StoreError, match="no snapshots"):
        snapshot(target, tmp_path)
    target.close()


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_shard_another_process_owns_is_neither_dropped_nor_opened(edge_dir) -> None:
    """Before: `drop tracks --yes` deleted the collection a running API served, and `info` /
    `list` opened a shard `musicrec index` was writing (which then crashed at its next flush).
    The owner here is this test process; the CLI runs in its own."""
    owner = EdgeStore(edge_dir / "qdrant", "tracks")
    assert owner.count() == N  # opened: the shard's lock is held from here on
    try:
        dropped = _cli(edge_dir, "collections", "drop", "tracks", "--yes")
        assert dropped.returncode == 1 and dropped.stderr.count("\n") == 1, dropped.stderr
        assert dropped.stderr.startswith("error: ") and "open in another process" in dropped.stderr
        listed = _cli(edge_dir, "collections", "list")
        assert listed.returncode == 0 and "in use by another process" in listed.stdout
        info = _cli(edge_dir, "collections", "info")
        assert info.returncode == 0, info.stderr
        assert "not counted" in info.stdout and "16-d cosine, test-lyrics" in info.stdout
        owner.upsert(many_points(10))  # the owner writes on, unharmed
        assert owner.count() == N
    finally:
        owner.close()
    assert (edge_dir / "qdrant" / "tracks" / "edge_config.json").exists()


def test_info_reports_allocated_not_apparent_sizes(edge_dir) -> None:
    store = EdgeStore(edge_dir / "qdrant", "tracks")
    info = collection_info(store)
    store.close()
    files = [f for f in (edge_dir / "qdrant" / "tracks").rglob("*") if f.is_file()]
    apparent = sum(f.stat().st_size for f in files)
    allocated = sum(f.stat().st_blocks * 512 for f in files)
    assert info.disk_bytes is not None and info.disk_bytes < apparent
    assert abs(info.disk_bytes - allocated) < 1_000_000


@pytest.mark.parametrize(
    "args",
    [
        ["collections", "migrate", "--to", "gopher://example.org/x"],
        ["collections", "migrate", "--to", "not a url"],
        ["collections", "migrate", "--to", "http://127.0.0.1:9"],  # nothing (no Qdrant) there
        ["collections", "snapshot", "--out", "{existing}"],
    ],
)
def test_cli_failures_are_one_error_line(edge_dir, tmp_path, args) -> None:
    existing = tmp_path / "a-file"
    existing.write_text("not a directory")
    result = _cli(edge_dir, *[a.replace("{existing}", str(existing)) for a in args])
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
