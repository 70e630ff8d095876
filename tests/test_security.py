"""API keys, CORS and body limits over real HTTP."""

from __future__ import annotations

import shutil

import pytest

from api.main import create_app
from tests.conftest import LiveServer, make_settings

KEY = "s3cret-key"
EVENT = {"events": [{"user_id": "u1", "track_id": "nope"}]}


@pytest.fixture(scope="module")
def data_copy(indexed_dir, tmp_path_factory):
    """Each server here owns its own copy: an embedded shard has one owner at a time."""
    root = tmp_path_factory.mktemp("security")

    def make(name: str):
        target = root / name
        shutil.copytree(indexed_dir / "qdrant", target / "qdrant")
        return target

    return make


@pytest.fixture(scope="module")
def keyed(data_copy):
    settings = make_settings(data_copy("keyed"), api_key=KEY, cors_origins=["https://app.example"])
    with LiveServer(create_app(settings)) as client:
        yield client


def test_writes_need_the_key(keyed) -> None:
    missing = keyed.post("/interactions", json=EVENT)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = keyed.post("/interactions", json=EVENT, headers={"X-API-Key": "guess"})
    assert wrong.status_code == 403
    # With the key the request gets past auth to validation (the track id is unknown).
    right = keyed.post("/interactions", json=EVENT, headers={"X-API-Key": KEY})
    assert right.status_code == 422
    bearer = keyed.post("/model/reload", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    assert keyed.post("/model/reload").status_code == 401


def test_reads_are_open_by_default(keyed) -> None:
    assert keyed.get("/search", params={"q": "love"}).status_code == 200
    assert keyed.get("/health").status_code == 200


def test_cors_allows_only_configured_origins(keyed) -> None:
    allowed = keyed.options(
        "/recommendations",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = keyed.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def test_oversized_bodies_are_413(keyed) -> None:
    body = {"positive": ["x" * 100] * 50, "negative": [], "pad": "y" * 2_000_000}
    response = keyed.post("/recommendations", json=body)
    assert response.status_code == 413


def test_without_a_configured_key_writes_are_off(data_copy) -> None:
    with LiveServer(create_app(make_settings(data_copy("nokey")))) as client:
        response = client.post("/interactions", json=EVENT, headers={"X-API-Key": "anything"})
        assert response.status_code == 403
        assert "MUSICREC_API_KEY" in response.json()["detail"]


def test_protected_reads(data_copy) -> None:
    settings = make_settings(data_copy("private"), api_key=KEY, protect_reads=True)
    with LiveServer(create_app(settings)) as client:
        assert client.get("/search", params={"q": "love"}).status_code == 401
        ok = client.get("/search", params={"q": "love"}, headers={"X-API-Key": KEY})
        assert ok.status_code == 200
        assert client.get("/health").status_code == 200


def test_cover_uploads_have_their_own_larger_cap(keyed) -> None:
    """2 MB is over the JSON body limit but under the upload cap: it reaches the decoder."""
    files = {"image": ("x.jpg", b"0" * 2_000_000, "image/jpeg")}
    response = keyed.post("/search/cover", files=files)
    assert response.status_code == 400
    assert "not an image" in response.json()["detail"]
