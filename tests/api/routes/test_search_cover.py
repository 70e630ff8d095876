"""Covers through the whole product: indexing run, fused recommendations and image search.

Real covers (../shared/data/covers) are served from 127.0.0.1 and attached to demo tracks as
`album_url`s. These links are test fixtures only: covers and tracks are not related in the data.
"""

from __future__ import annotations

import http.server
import shutil
import threading
from collections import Counter

import numpy as np
import pytest

from api.main import create_app
from core.encoders.cover import CnnCoverEncoder
from core.store.edge import EdgeStore
from indexer.covers import CoverFetcher, CoverUrlEncoder, build_cover_url_encoder
from indexer.pipeline import Indexer
from schemas.tracks import point_id
from tests.conftest import SHARED_DATA, LiveServer, make_settings, slice_rows, write_catalog

COVERS = SHARED_DATA / "covers"
LOOPBACK = ["127.0.0.1/32"]  # the local cover host: refused by default (test_cover_ssrf.py)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not COVERS.is_dir(), reason=f"real covers not available at {COVERS}"),
]


class Host(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Host

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.hits[self.path] += 1
        path = COVERS / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def host():
    server = Host()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def cnn() -> CnnCoverEncoder:
    return CnnCoverEncoder(batch_size=8)


def cover_files() -> list[str]:
    return sorted(str(p.relative_to(COVERS)) for p in COVERS.glob("*/*.jpg"))[::25][:12]


@pytest.fixture(scope="module")
def covered(module_dir, host, cnn, lyrics_encoder):
    """12 covers over 24 tracks (two tracks per album), plus one track with a dead URL."""
    base = f"http://127.0.0.1:{host.server_address[1]}"
    header, rows = slice_rows(n_lyrics=10, n_other=20)
    files = cover_files()
    for i, row in enumerate(rows[:24]):
        row["album_url"] = f"{base}/{files[i // 2]}"
    rows[24]["album_url"] = f"{base}/missing/cover.jpg"
    tmp = module_dir
    path = write_catalog(tmp / "catalog.csv", header, rows)
    settings = make_settings(tmp / "data")
    errors: list[tuple[str, str]] = []

    def index() -> object:
        store = EdgeStore(settings.qdrant_path, settings.collection)
        covers = CoverUrlEncoder(
            CoverFetcher(tmp / "covers", retries=1, allowed_networks=LOOPBACK),
            cnn,
            on_error=lambda url, why: errors.append((url, why)),
        )
        report = Indexer(store, [lyrics_encoder, covers], batch_size=16, progress=False).run(path)
        covers.close()
        store.close()
        return report

    first = index()
    hits_after_first = Counter(host.hits)
    second = index()
    return {
        "settings": settings,
        "rows": rows,
        "files": files,
        "first": first,
        "second": second,
        "errors": errors,
        "hits_first": hits_after_first,
        "hits_second": Counter(host.hits) - hits_after_first,
    }


def test_index_run_embeds_each_album_once_and_reports_broken_urls(covered) -> None:
    rows, first = covered["rows"], covered["first"]
    assert first.indexed == len(rows)
    assert first.missing["cover"] == len(rows) - 24
    assert covered["hits_first"]["/missing/cover.jpg"] == 1
    assert all(covered["hits_first"][f"/{f}"] == 1 for f in covered["files"])  # dedup
    assert any("missing/cover.jpg" in url and "404" in why for url, why in covered["errors"])

    settings = covered["settings"]
    store = EdgeStore(settings.qdrant_path, settings.collection)
    records = {
        r.payload["track_id"]: r
        for r in store.retrieve([point_id(r["id"]) for r in rows], with_vectors=True)
    }
    layout = store.layout()
    store.close()
    assert layout is not None and layout.vectors["cover"].size == 1280
    a, b, c = (records[rows[i]["id"]].vectors["cover"] for i in (0, 1, 2))
    np.testing.assert_allclose(a, b, atol=1e-6)  # same album, same vector
    assert not np.allclose(a, c)
    assert "cover" not in records[rows[24]["id"]].vectors


def test_rerun_uses_the_cache_and_retries_only_the_failed_cover(covered) -> None:
    second = covered["second"]
    assert second.indexed == 1  # the track whose cover failed, tried again
    assert second.unchanged == len(covered["rows"]) - 1
    assert covered["hits_second"] == Counter({"/missing/cover.jpg": 1})


@pytest.fixture(scope="module")
def api(covered):
    with LiveServer(create_app(covered["settings"])) as client:
        yield client


def test_recommendations_fuse_and_explain_the_cover(api, covered) -> None:
    seed = covered["rows"][0]["id"]
    body = api.post("/recommendations", json={"positive": [seed], "limit": 30}).json()
    assert body["modalities"] == ["lyrics", "cover", "audio"]
    twin = next(i for i in body["items"] if i["track"]["id"] == covered["rows"][1]["id"])
    assert twin["similarities"]["cover"] == pytest.approx(1.0, abs=1e-4)
    cover_only = api.post(
        "/recommendations",
        json={"positive": [seed], "weights": {"lyrics": 0, "audio": 0}, "limit": 1},
    ).json()
    assert cover_only["items"][0]["track"]["id"] == covered["rows"][1]["id"]


def test_search_by_uploaded_cover(api, covered) -> None:
    data = (COVERS / covered["files"][3]).read_bytes()
    response = api.post("/search/cover", files={"image": ("x.jpg", data, "image/jpeg")})
    assert response.status_code == 200
    top = {i["track"]["id"] for i in response.json()["items"][:2]}
    assert top == {covered["rows"][6]["id"], covered["rows"][7]["id"]}
    assert response.json()["items"][0]["similarities"]["cover"] == pytest.approx(1.0, abs=1e-4)


def test_cover_upload_errors(api) -> None:
    junk = api.post("/search/cover", files={"image": ("x.jpg", b"not an image", "image/jpeg")})
    assert junk.status_code == 400
    assert "image" in junk.json()["detail"]
    huge = api.post("/search/cover", files={"image": ("x.jpg", b"0" * 5_000_001, "image/jpeg")})
    assert huge.status_code == 413
    assert api.post("/search/cover").status_code == 422


def test_text_to_cover_needs_clip(api) -> None:
    response = api.get("/search", params={"q": "a red guitar", "modality": "cover"})
    assert response.status_code == 400
    assert "CLIP" in response.json()["detail"]


def test_cover_encoder_mismatch_is_refused(covered, tmp_path) -> None:
    # A copy of the collection: the module's API server owns the original shard.
    shutil.copytree(covered["settings"].data_dir / "qdrant", tmp_path / "qdrant")
    settings = make_settings(tmp_path, cover_encoder="clip", clip_model="RN50")
    data = (COVERS / covered["files"][0]).read_bytes()
    with LiveServer(create_app(settings)) as client:
        response = client.post("/search/cover", files={"image": ("x.jpg", data, "image/jpeg")})
        assert response.status_code == 409
        assert "re-index" in response.json()["detail"]
        text = client.get("/search", params={"q": "a red guitar", "modality": "cover"})
        assert text.status_code == 409


def test_loopback_covers_are_refused_unless_the_setting_allows_them(host, tmp_path) -> None:
    """The index run's cover encoder as the CLI builds it from the settings: by default a
    loopback cover is refused before any request and reported with its URL (the track gets no
    cover vector); MUSICREC_COVER_ALLOWED_NETWORKS lets the same URL through."""
    name = cover_files()[0]
    url = f"http://127.0.0.1:{host.server_address[1]}/{name}"
    before = host.hits[f"/{name}"]
    errors: list[tuple[str, str]] = []
    default = make_settings(tmp_path / "a")
    assert default.cover_allowed_networks == []
    covers = build_cover_url_encoder(default, on_error=lambda u, why: errors.append((u, why)))
    assert covers is not None
    assert covers.encode([url, None]) == [None, None]
    covers.close()
    assert errors == [(url, f"refused: {url} is not a public http(s) address")]
    assert host.hits[f"/{name}"] == before

    allowing = make_settings(tmp_path / "b", cover_allowed_networks=LOOPBACK)
    covers = build_cover_url_encoder(allowing, on_error=lambda u, why: errors.append((u, why)))
    assert covers is not None
    vector = covers.encode([url])[0]
    covers.close()
    assert vector is not None and vector.shape == (1280,) and len(errors) == 1
    assert host.hits[f"/{name}"] == before + 1
