"""API keys, rate limits, CORS, body limits and response headers over real HTTP."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest

from api.main import create_app
from schemas.settings import SettingsError, load_settings
from tests.conftest import LiveServer, make_settings

KEY = "s3cret-key-0123456789"
EVENT = {"events": [{"user_id": "u1", "track_id": "nope"}]}


@pytest.fixture(scope="module")
def data_copy(indexed_dir, module_dir):
    """Each server here owns its own copy: an embedded shard has one owner at a time."""
    root = module_dir

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


def test_the_schema_declares_both_key_schemes_on_the_operations_that_need_them(
    keyed, data_copy
) -> None:
    """What Swagger UI's Authorize button reads: the two schemes, and on each protected
    operation a requirement of either one. Reads are open here, so they declare none."""
    schema = keyed.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The key set in MUSICREC_API_KEY.",
    }
    assert schemes["Bearer"]["type"] == "http" and schemes["Bearer"]["scheme"] == "bearer"
    either = [{"ApiKey": []}, {"Bearer": []}]
    paths = schema["paths"]
    for path, method in [
        ("/interactions", "post"),
        ("/model/reload", "post"),
        ("/tracks/{track_id}/refresh", "post"),
        ("/users", "get"),
    ]:
        assert paths[path][method]["security"] == either, path
    for path in ("/search", "/health", "/tracks/{track_id}", "/covers/{track_id}"):
        assert "security" not in paths[path]["get"], path
    # With protected reads, the reads declare the key too (and only the key opens them).
    settings = make_settings(data_copy("schema"), api_key=KEY, protect_reads=True)
    with LiveServer(create_app(settings)) as private:
        paths = private.get("/openapi.json").json()["paths"]
        for path in ("/search", "/tracks/{track_id}", "/covers/{track_id}"):
            assert paths[path]["get"]["security"] == either, path
        assert "security" not in paths["/health"]["get"]
        bearer = {"Authorization": f"Bearer {KEY}"}
        assert private.get("/search", params={"q": "love"}, headers=bearer).status_code == 200
        assert (
            private.get("/search", params={"q": "x"}, headers={"X-API-Key": "no"}).status_code
            == 403
        )


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
        assert client.get("/metrics").status_code == 401  # it was public
        assert client.get("/metrics", headers={"X-API-Key": KEY}).status_code == 200


def test_cover_uploads_have_their_own_larger_cap(keyed) -> None:
    """2 MB is over the JSON body limit but under the upload cap: it reaches the decoder."""
    files = {"image": ("x.jpg", b"0" * 2_000_000, "image/jpeg")}
    response = keyed.post("/search/cover", files=files)
    assert response.status_code == 400
    assert "not an image" in response.json()["detail"]


def test_an_upload_over_the_cap_is_refused_before_its_body_is_read(keyed) -> None:
    """A client announcing 60 MB gets 413 at once: the server does not wait for the bytes."""
    port = int(str(keyed.base_url).rsplit(":", 1)[1])
    head = (
        "POST /search/cover HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 60000000\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(head.encode())
        status_line = conn.recv(4096).split(b"\r\n", 1)[0]  # times out if it waits
    assert b" 413 " in status_line


def test_every_response_carries_the_security_headers(keyed) -> None:
    for response in (
        keyed.get("/"),
        keyed.get("/ui/index.html"),
        keyed.get("/health"),
        keyed.get("/tracks/nope"),
        keyed.post("/interactions", json=EVENT),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff", response.url
        assert response.headers["Referrer-Policy"] == "no-referrer", response.url


def test_docs_pages_load_nothing_from_a_cdn_and_the_schema_has_the_limits(keyed) -> None:
    for page in ("/docs", "/redoc"):
        html = keyed.get(page).text
        scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
        assert scripts and all(src.startswith("/docs-assets/") for src in scripts), scripts
        for src in scripts:
            assert keyed.get(src).status_code == 200, src
    schema = keyed.get("/openapi.json").json()
    params = {p["name"]: p["schema"] for p in schema["paths"]["/search"]["get"]["parameters"]}
    assert params["genre"]["maxItems"] == 50 and params["genre"]["items"]["maxLength"] == 64
    assert params["exclude_artist"]["maxItems"] == 100
    for path in ("/recommendations", "/interactions", "/search/cover"):
        assert "400" in schema["paths"][path]["post"]["responses"], path
    refresh = schema["paths"]["/tracks/{track_id}/refresh"]["post"]["responses"]
    assert {"401", "403", "429"} <= set(refresh)


def test_malformed_bodies_are_400(keyed) -> None:
    """Bytes that are not UTF-8 cannot be parsed: the documented 400, not a 500."""
    response = keyed.post(
        "/recommendations", content=b"\xff\xfe{", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_a_short_api_key_is_refused_at_start_without_echoing_it(monkeypatch) -> None:
    monkeypatch.setenv("MUSICREC_API_KEY", "tooshort123")
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None)
    message = str(refused.value)
    assert "MUSICREC_API_KEY" in message and "at least 16 characters" in message
    assert "tooshort123" not in message


def test_bad_rate_settings_are_refused(monkeypatch) -> None:
    monkeypatch.setenv("MUSICREC_RATE_LIMIT_SEARCH", "lots")
    with pytest.raises(SettingsError, match="MUSICREC_RATE_LIMIT_SEARCH='lots'"):
        load_settings(_env_file=None)
    monkeypatch.setenv("MUSICREC_RATE_LIMIT_SEARCH", "off")
    assert load_settings(_env_file=None).rate_limit_search is None


def test_expensive_reads_are_rate_limited_per_endpoint(data_copy) -> None:
    settings = make_settings(
        data_copy("limited"),
        api_key=KEY,
        rate_limit_search="3/minute",
        rate_limit_cover_search="1/minute",
        rate_limit_refresh="1/minute",
    )
    with LiveServer(create_app(settings)) as client:
        for _ in range(3):
            assert client.get("/search", params={"q": "love"}).status_code == 200
        limited = client.get("/search", params={"q": "love"})
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "3 per 1 minute" in limited.json()["detail"]
        # Each endpoint has its own budget; the others are not limited at all.
        files = {"image": ("x.jpg", b"0" * 100, "image/jpeg")}
        assert client.post("/search/cover", files=files).status_code == 400
        assert client.post("/search/cover", files=files).status_code == 429
        assert client.get("/tracks/nope").status_code == 404
        # A refresh (no Spotify configured here: 409) is charged after the key check.
        refresh, key = "/tracks/nope/refresh", {"X-API-Key": KEY}
        assert client.post(refresh).status_code == 401
        assert client.post(refresh, headers=key).status_code == 409
        assert client.post(refresh, headers=key).status_code == 429


def test_docs_pages_have_a_csp_and_still_render_in_chromium(keyed) -> None:
    """/docs and /redoc had no Content-Security-Policy. Now they do, allowing their inline
    script by hash; Swagger UI must still render the schema under it in a real browser."""
    from playwright.sync_api import sync_playwright

    from tests.api.routes.test_ui import CHROMIUM, FLAGS

    for page in ("/docs", "/redoc"):
        policy = keyed.get(page).headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split(";")[1]
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        tab = browser.new_page()
        refused: list[str] = []
        tab.on(
            "console", lambda m: refused.append(m.text) if "Content Security" in m.text else None
        )
        tab.goto(f"{keyed.base_url}/docs")
        tab.wait_for_selector("#swagger-ui .info .title", timeout=30_000)
        assert "musicrec" in tab.inner_text("#swagger-ui .info .title")
        browser.close()
    assert not refused, refused
