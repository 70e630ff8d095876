"""A small served world for the job tests: an embedded collection of a real demo slice, a
database holding synthetic listeners of it, and the catalog of tracks not indexed yet."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from core.interactions.store import Interaction, SqlInteractionStore
from core.store.edge import EdgeStore
from schemas.settings import Settings
from tests.conftest import ROOT, demo_rows, make_settings, write_catalog

KEY = "test-key-0123456789abcdef"
HEADERS = {"X-API-Key": KEY}
FAST = {
    "api_key": KEY,
    "cover_encoder": "none",
    "lightfm_epochs": 3,
    "lightfm_threads": 1,
    "ranker_threads": 1,
    "model_reload_seconds": 0.5,
    "index_batch_size": 16,
}


def split_demo(n_base: int = 60, n_new: int = 30) -> tuple[list[str], list[dict], list[dict]]:
    """Base rows (a third with lyrics) and new rows (half with lyrics), disjoint."""
    header, rows = demo_rows()
    lyrics = [r for r in rows if r["lyrics"].strip()]
    other = [r for r in rows if not r["lyrics"].strip()]
    base = lyrics[: n_base // 3] + other[: n_base - n_base // 3]
    new = lyrics[n_base // 3 : n_base // 3 + n_new // 2] + other[n_base : n_base + n_new // 2]
    return header, base, new


def listeners(track_ids: list[str], users: int = 24, per_user: int = 10) -> list[Interaction]:
    """Users in four clusters of neighbouring tracks: enough signal for LightFM and the
    ranker's held-out labels (users with at least 5 interactions)."""
    events = []
    for u in range(users):
        cluster = track_ids[(u % 4) :: 4]
        start = (u // 4) % max(1, len(cluster) - per_user)
        for i, track in enumerate(cluster[start : start + per_user]):
            events.append(Interaction(f"u{u}", track, 1.0, "listen", event_id=f"e{u}-{i}"))
    return events


def record(url: str, events: list[Interaction]) -> None:
    store = SqlInteractionStore.open(url)
    try:
        store.record(events)
    finally:
        store.close()


def build_world(
    data_dir: Path, lyrics_encoder: Any, catalog_dir: Path, **overrides: Any
) -> Settings:
    """Index the base slice into `data_dir`, record listeners; writes new.csv in catalog_dir."""
    from core.encoders.lyrics_terms import LyricsTermsEncoder
    from indexer.pipeline import Indexer

    header, base, new = split_demo()
    settings = make_settings(data_dir, **{**FAST, **overrides})
    base_csv = write_catalog(catalog_dir / "base.csv", header, base)
    write_catalog(catalog_dir / "new.csv", header, new)
    store = EdgeStore(settings.qdrant_path, settings.collection)
    try:
        Indexer(store, [lyrics_encoder, LyricsTermsEncoder()], batch_size=32, progress=False).run(
            base_csv
        )
    finally:
        store.close()
    assert settings.database_url is not None
    record(settings.database_url, listeners([r["id"] for r in base]))
    return settings


def copy_world(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a CLI or API subprocess on these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICREC_")}
    env.update(
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(ROOT),
        MUSICREC_DATA_DIR=str(settings.data_dir),
        MUSICREC_API_KEY=KEY,
        MUSICREC_API_PORT=str(settings.api_port),
        MUSICREC_COVER_ENCODER="none",
        MUSICREC_LIGHTFM_EPOCHS=str(settings.lightfm_epochs),
        MUSICREC_LIGHTFM_THREADS="1",
        MUSICREC_RANKER_THREADS="1",
        MUSICREC_INDEX_BATCH_SIZE=str(settings.index_batch_size),
        MUSICREC_MODEL_RELOAD_SECONDS="0.5",
        MUSICREC_DATABASE_URL=str(settings.database_url),
        **extra,
    )
    return env


def cli(settings: Settings, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env_for(settings),
        cwd=settings.data_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_job(client: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=HEADERS).json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def points_by_track(settings: Settings) -> dict[str, str]:
    """track_id → content hash of every stored point (opened after the API stopped)."""
    store = EdgeStore(settings.qdrant_path, settings.collection)
    try:
        found: dict[str, str] = {}
        for batch in store.scroll(512):
            for r in batch:
                assert r.payload["track_id"] not in found, "a track stored twice"
                found[r.payload["track_id"]] = r.payload["content_hash"]
        return found
    finally:
        store.close()
