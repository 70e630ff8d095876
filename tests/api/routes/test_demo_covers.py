"""The demo's real covers through the product: local `album_url`s indexed with the real CNN
encoder (the cover encoder the settings build, the cache the API serves from), then searched
by an uploaded cover, served by `/covers/{id}` and used in recommendations, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from core.cover_cache import cover_cache_dir
from core.store import open_store
from indexer.covers import build_cover_url_encoder
from indexer.pipeline import Indexer
from tests.conftest import (
    DEMO_COVERS,
    LiveServer,
    copy_demo_covers,
    covered_demo_rows,
    demo_rows,
    make_settings,
    write_catalog,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(module_dir, lyrics_encoder) -> dict:
    """Six real albums (every demo track of each, lyrics included) and 20 tracks without a
    cover, indexed as `musicrec index` would, with the settings' cover encoder."""
    header, rows = covered_demo_rows(albums=6, lyrics=True)
    _, all_rows = demo_rows(covers=True)
    rows += [r for r in all_rows if not r["album_url"]][:20]
    tmp = module_dir
    copy_demo_covers(rows, tmp / "catalog")
    path = write_catalog(tmp / "catalog" / "tracks.csv", header, rows)
    settings = make_settings(tmp / "data")
    errors: list[tuple[str, str]] = []
    covers = build_cover_url_encoder(settings, on_error=lambda u, why: errors.append((u, why)))
    assert covers is not None
    store = open_store(settings)
    try:
        report = Indexer(
            store,
            [lyrics_encoder, covers],
            batch_size=16,
            progress=False,
            cover_local_dir=settings.cover_local_dir,
        ).run(path)
    finally:
        covers.close()
        store.close()
    return {"settings": settings, "rows": rows, "report": report, "errors": errors}


@pytest.fixture(scope="module")
def api(demo) -> Iterator[httpx.Client]:
    with LiveServer(create_app(demo["settings"])) as client:
        yield client


def albums(rows: list[dict[str, str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in rows:
        if row["album_url"]:
            out.setdefault(row["album_url"], set()).add(row["id"])
    return out


def test_every_covered_track_got_its_cover_vector(demo) -> None:
    report = demo["report"]
    assert demo["errors"] == [] and report.rejected == 0
    assert report.indexed == len(demo["rows"])
    assert report.missing["cover"] == 20  # exactly the tracks without a cover


@pytest.mark.parametrize("album", range(6))
def test_uploading_a_demo_cover_finds_its_own_album_first(api, demo, album: int) -> None:
    url, tracks = sorted(albums(demo["rows"]).items())[album]
    data = (DEMO_COVERS / Path(url).name).read_bytes()
    response = api.post("/search/cover", files={"image": ("cover.jpg", data, "image/jpeg")})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {i["track"]["id"] for i in items[: len(tracks)]} == tracks
    for item in items[: len(tracks)]:
        assert item["similarities"]["cover"] == pytest.approx(1.0, abs=1e-3)
    assert items[len(tracks)]["similarities"]["cover"] < 0.99


def test_covers_are_served_from_the_cache_and_no_server_path_leaks(api, demo) -> None:
    url, tracks = sorted(albums(demo["rows"]).items())[0]
    track_id = sorted(tracks)[0]
    track = api.get(f"/tracks/{track_id}").json()
    assert track["album_url"] == f"/covers/{track_id}"
    cover = api.get(track["album_url"])
    assert cover.status_code == 200 and cover.headers["content-type"] == "image/jpeg"
    assert cover.content == (DEMO_COVERS / Path(url).name).read_bytes()
    cached = list(cover_cache_dir(demo["settings"]).rglob("*"))
    assert sum(p.is_file() for p in cached) == 6  # one cache entry per album
    plain = next(r["id"] for r in demo["rows"] if not r["album_url"])
    assert api.get(f"/tracks/{plain}").json()["album_url"] is None
    assert api.get(f"/covers/{plain}").status_code == 404


def test_recommendations_use_the_cover_similarity(api, demo) -> None:
    _, tracks = sorted(albums(demo["rows"]).items())[1]
    seed, *others = sorted(tracks)
    body = api.post("/recommendations", json={"positive": [seed], "limit": 50}).json()
    assert "cover" in body["modalities"]
    sims = {i["track"]["id"]: i["similarities"]["cover"] for i in body["items"]}
    for other in others:
        assert sims[other] == pytest.approx(1.0, abs=1e-3)
    assert any(s is None for s in sims.values())  # a track without a cover has no similarity
