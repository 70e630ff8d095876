"""Spotify metadata: the client, enrichment, the CLI and the API refresh, against a local fake of
the Spotify Web API (real HTTP on 127.0.0.1) serving real rows of the demo catalog."""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import json
import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from core.spotify import SpotifyError, SpotifyUnavailableError, build_spotify_client
from core.spotify.client import SpotifyClient
from indexer.catalog import read_catalog
from indexer.enrich import KAGGLE_COLUMNS, enrich_catalog, fetch_new_tracks
from tests.conftest import (
    LiveServer,
    demo_rows,
    free_port,
    make_settings,
    slice_rows,
    write_catalog,
)

CLIENT_ID, CLIENT_SECRET = "musicrec-test", "s3cret"
UNKNOWN_ID = "0000000000000000000000"  # a well-formed id the fake does not know
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _b62_id(text: str) -> str:
    n = int.from_bytes(hashlib.sha1(text.encode()).digest(), "big")
    digits = []
    for _ in range(22):
        n, r = divmod(n, 62)
        digits.append(_B62[r])
    return "".join(digits)


class FakeSpotify:
    """The endpoints the client uses, with the faults it must survive, counting requests."""

    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.tracks: dict[str, dict] = {}
        self.albums: dict[str, dict] = {}
        for row in rows:
            self._add(row)
        self.playlists: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.reset()

    def _add(self, row: dict[str, str]) -> None:
        artists = ast.literal_eval(row["artists"]) if row["artists"] else []
        album_name = row["album_name"] or row["name"]
        album_id = _b62_id(f"{album_name}|{artists[:1]}")
        # Not widest first: the client must pick the largest image, not the first.
        images = [
            {"url": f"{self.url}/covers/{album_id}-{w}.jpg", "width": w, "height": w}
            for w in (300, 640, 64)
        ]
        release = row["release_date"] or row["year"]
        album = {
            "id": album_id,
            "type": "album",
            "name": album_name,
            "images": images,
            "release_date": release,
            "release_date_precision": "day" if len(release) == 10 else "year",
            "available_markets": ["DE", "US"],
        }
        self.albums[album_id] = album
        self.tracks[row["id"]] = {
            "id": row["id"],
            "type": "track",
            "name": row["name"],
            "artists": [{"name": a} for a in artists],
            "album": album,
            "popularity": int(row["popularity"] or 50),
            "explicit": row["explicit"] == "True",
            "available_markets": ["DE", "US"],
        }

    def reset(self) -> None:
        with self.lock:
            self.requests: Counter[str] = Counter()
            self.faults: list[tuple[int, dict[str, str]]] = []
            self.tokens: set[str] = set()
            self.token_failures = 0  # the token endpoint answers 503 this many times
            self.batch_forbidden = False

    def fail(self, status: int, times: int = 1, retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self.lock:
            self.faults += [(status, headers)] * times

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def total(self) -> int:
        return sum(self.requests.values())

    # --- answers: (status, body, headers) -------------------------------------------------
    def token(self, auth: str, form: dict[str, list[str]]) -> tuple[int, dict]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "invalid_client", "error_description": "Invalid client"}
        with self.lock:
            token = f"tok-{self.requests['token']}"
            self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def api(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict]:
        parts = path.removeprefix("/v1/").strip("/").split("/")
        ids = query.get("ids", [""])[0].split(",") if "ids" in query else None
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["20"])[0])
        kind = parts[0]
        if kind in ("tracks", "albums") and len(parts) == 1 and ids is not None:
            store = self.tracks if kind == "tracks" else self.albums
            if self.batch_forbidden:
                return 403, _error(403, "Forbidden")
            if len(ids) > (50 if kind == "tracks" else 20):
                return 400, _error(400, "Too many ids requested")
            return 200, {kind: [store.get(i) for i in ids]}
        if kind in ("tracks", "albums") and len(parts) == 2:
            found = (self.tracks if kind == "tracks" else self.albums).get(parts[1])
            return (200, found) if found else (404, _error(404, "Resource not found"))
        if kind == "playlists" and len(parts) == 3 and parts[2] in ("items", "tracks"):
            ids = self.playlists.get(parts[1])
            if ids is None:
                return 404, _error(404, "Resource not found")
            field = "item" if parts[2] == "items" else "track"
            page = [{field: self.tracks[i]} for i in ids[offset : offset + limit]]
            more = offset + limit < len(ids)
            nxt = f"{self.url}{path}?offset={offset + limit}&limit={limit}" if more else None
            return 200, {"items": page, "next": nxt, "total": len(ids)}
        if kind == "search":
            if limit > 10:
                return 400, _error(400, "Invalid limit")
            words = query["q"][0].lower()
            hits = [
                t
                for t in self.tracks.values()
                if words in t["name"].lower()
                or any(words in a["name"].lower() for a in t["artists"])
            ]
            more = offset + limit < len(hits)
            nxt = f"{self.url}/v1/search?offset={offset + limit}&limit={limit}" if more else None
            return 200, {"tracks": {"items": hits[offset : offset + limit], "next": nxt}}
        return 404, _error(404, "Service not found")


def _error(status: int, message: str) -> dict:
    return {"error": {"status": status, "message": message}}


def _endpoint(path: str) -> str:
    parts = path.removeprefix("/v1/").strip("/").split("/")
    if parts[0] == "playlists":
        return "playlist"
    return parts[0] if len(parts) == 1 else parts[0].rstrip("s")


def _handler(fake: FakeSpotify) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            with fake.lock:
                fake.requests["token"] += 1
                failing = fake.token_failures > 0
                fake.token_failures -= failing
            if failing:
                self._send(503, {"error": "server_error"})
            else:
                self._send(*fake.token(self.headers.get("Authorization", ""), form))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with fake.lock:
                fake.requests[_endpoint(url.path)] += 1
                fault = fake.faults.pop(0) if fake.faults else None
                authorized = self.headers.get("Authorization", "").removeprefix("Bearer ")
                authorized = authorized in fake.tokens
            if fault:
                self._send(fault[0], _error(fault[0], "injected"), fault[1])
            elif not authorized:
                self._send(401, _error(401, "The access token expired"))
            else:
                self._send(*fake.api(url.path, parse_qs(url.query)))

    return Handler


HEADER, ROWS = demo_rows()
KNOWN = [r for r in ROWS if r["album_name"] and r["popularity"]]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSpotify]:
    server = FakeSpotify(ROWS)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def settings_for(fake, tmp_path):
    fake.reset()

    def build(data_dir: Path = tmp_path, **overrides: object):
        values: dict[str, object] = {
            "spotify_client_id": CLIENT_ID,
            "spotify_client_secret": CLIENT_SECRET,
            "spotify_api_url": f"{fake.url}/v1/",
            "spotify_auth_url": f"{fake.url}/api/token",
            "spotify_max_retry_seconds": 10,
            "cover_encoder": "none",
        }
        return make_settings(data_dir, **{**values, **overrides})

    return build


@pytest.fixture
def client(settings_for) -> SpotifyClient:
    built = build_spotify_client(settings_for())
    assert built is not None
    return built


# --- the client ---------------------------------------------------------------------------
def test_tracks_are_batched_by_50_and_cached(fake, client, settings_for) -> None:
    ids = [r["id"] for r in KNOWN[:120]]
    found = client.tracks(ids)
    assert list(found) == ids and all(found.values())
    assert fake.requests["tracks"] == 3  # 50 + 50 + 20
    before = fake.total()
    client.tracks(ids)
    assert fake.total() == before  # all from the disk cache
    again = build_spotify_client(settings_for())  # a new process reads the same cache
    assert again is not None and again.tracks(ids) == found
    assert fake.total() == before
    hit, cached = client.cache.get("track", ids[0])
    assert hit and "available_markets" not in cached


def test_cached_objects_expire_after_the_ttl(fake, settings_for) -> None:
    client = build_spotify_client(settings_for(spotify_cache_ttl=0.5))
    assert client is not None
    track_id = KNOWN[0]["id"]
    client.tracks([track_id])
    client.tracks([track_id])
    assert fake.requests["tracks"] == 1
    time.sleep(0.6)
    client.tracks([track_id])
    assert fake.requests["tracks"] == 2


def test_track_metadata_maps_to_track_fields(client) -> None:
    row = KNOWN[0]
    meta = client.track_metadata(client.tracks([row["id"]])[row["id"]])
    assert meta["name"] == row["name"]
    assert meta["album_name"] == row["album_name"]
    assert meta["popularity"] == int(row["popularity"])
    assert meta["release_date"] == row["release_date"]
    assert meta["year"] == int(row["release_date"][:4])
    assert meta["album_url"].endswith("-640.jpg")  # the largest image
    assert client.track_metadata({"id": "x", "album": {}}) == {}  # nothing invented


def test_unknown_ids_are_none_and_invalid_ids_never_sent(fake, client) -> None:
    known = KNOWN[0]["id"]
    found = client.tracks([known, UNKNOWN_ID, "catalog-own-id-42"])
    assert found[known] is not None
    assert found[UNKNOWN_ID] is None and found["catalog-own-id-42"] is None
    assert fake.requests["tracks"] == 1
    client.tracks([UNKNOWN_ID])
    assert fake.requests["tracks"] == 1  # "unknown" is cached too


def test_429_honours_retry_after(fake, client) -> None:
    fake.fail(429, retry_after=1)
    started = time.monotonic()
    assert client.tracks([KNOWN[0]["id"]])[KNOWN[0]["id"]] is not None
    assert time.monotonic() - started >= 1.0
    assert fake.requests["tracks"] == 2


def test_5xx_retried_with_backoff(fake, client) -> None:
    fake.fail(503, times=2)
    assert client.tracks([KNOWN[1]["id"]])[KNOWN[1]["id"]] is not None
    assert fake.requests["tracks"] == 3


def test_expired_token_is_refreshed_once(fake, client) -> None:
    fake.token_failures = 1  # a failing token endpoint is retried like the API
    client.tracks([KNOWN[0]["id"]])
    assert fake.requests["token"] == 2
    fake.expire_tokens()
    assert client.tracks([KNOWN[1]["id"]])[KNOWN[1]["id"]] is not None
    assert fake.requests["token"] == 3
    assert fake.requests["tracks"] == 3  # 1, then the 401 and its retry


def test_retry_budget_exhausted_raises_a_clear_error_quickly(fake, settings_for) -> None:
    client = build_spotify_client(settings_for(spotify_max_retry_seconds=1))
    assert client is not None
    fake.fail(503, times=100)
    started = time.monotonic()
    with pytest.raises(SpotifyUnavailableError, match="retry budget of 1s") as info:
        client.tracks([KNOWN[0]["id"]])
    assert time.monotonic() - started < 2.5
    assert info.value.retry_after >= 1
    fake.reset()
    fake.fail(429, retry_after=30)  # longer than the budget: no point in waiting
    started = time.monotonic()
    with pytest.raises(SpotifyUnavailableError, match="HTTP 429") as info:
        client.tracks([KNOWN[1]["id"]])
    assert time.monotonic() - started < 0.5 and info.value.retry_after == 30


def test_unreachable_server_and_bad_credentials(settings_for) -> None:
    dead = build_spotify_client(
        settings_for(
            spotify_api_url=f"http://127.0.0.1:{free_port()}/v1/",
            spotify_auth_url=f"http://127.0.0.1:{free_port()}/api/token",
            spotify_max_retry_seconds=1,
        )
    )
    assert dead is not None
    with pytest.raises(SpotifyUnavailableError, match="ConnectionError"):
        dead.tracks([KNOWN[0]["id"]])
    wrong = build_spotify_client(settings_for(spotify_client_secret="wrong"))
    assert wrong is not None
    with pytest.raises(SpotifyError, match="SPOTIFY_CLIENT_SECRET"):
        wrong.tracks([KNOWN[0]["id"]])


def test_refused_batches_fall_back_to_one_request_per_track(fake, client) -> None:
    fake.batch_forbidden = True  # development-mode apps since February 2026
    ids = [r["id"] for r in KNOWN[:3]]
    found = client.tracks([*ids, UNKNOWN_ID])
    assert all(found[i] for i in ids) and found[UNKNOWN_ID] is None
    assert fake.requests["tracks"] == 1 and fake.requests["track"] == 4
    client.tracks([KNOWN[5]["id"]])
    assert fake.requests["tracks"] == 1  # not asked again


def test_playlist_is_paginated_and_search_pages_by_10(fake, client) -> None:
    ids = [r["id"] for r in KNOWN[200:320]]
    fake.playlists["pl1"] = ids
    assert client.playlist_track_ids("pl1") == ids
    assert fake.requests["playlist"] == 3  # 50 + 50 + 20
    client.tracks(ids)
    assert fake.requests["tracks"] == 0  # the playlist pages carried the track objects
    artist = fake.tracks[KNOWN[0]["id"]]["artists"][0]["name"]
    expected = [
        t["id"]
        for t in fake.tracks.values()
        if artist.lower() in t["name"].lower()
        or any(artist.lower() in a["name"].lower() for a in t["artists"])
    ]
    found = client.search_track_ids(artist, limit=15)
    assert found == expected[:15] and found
    assert fake.requests["search"] == -(-min(len(expected), 15) // 10)
    client.search_track_ids(artist, limit=15)
    assert fake.requests["search"] == -(-min(len(expected), 15) // 10)  # cached


# --- enrichment -----------------------------------------------------------------------------
def _blanked_slice(tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    header, rows = slice_rows(n_lyrics=20, n_other=40)
    rows = [dict(r) for r in rows if r["album_name"] and r["popularity"]]
    originals = [dict(r) for r in rows]
    for n, row in enumerate(rows):
        row["popularity"] = ""
        if n % 3 == 0:
            row["release_date"] = row["explicit"] = ""
    rows[1]["popularity"] = "7"  # present: must survive
    extra = {**rows[0], "id": UNKNOWN_ID}
    own = {**rows[0], "id": "catalog-own-id-42"}
    path = write_catalog(tmp_path / "blank.csv", header, [*rows, extra, own])
    return path, originals


def test_enrich_fills_gaps_keeps_everything_else_and_is_idempotent(fake, client, tmp_path) -> None:
    path, originals = _blanked_slice(tmp_path)
    out = tmp_path / "enriched.csv"
    report = enrich_catalog(path, out, client)
    assert report.rows == len(originals) + 2
    assert report.not_found == 2
    assert report.filled["album_url"] == len(originals)
    assert fake.requests["tracks"] == -(-(len(originals) + 1) // 50)  # own id never sent

    with out.open(newline="", encoding="utf-8") as fh:
        enriched = list(csv.DictReader(fh))
    for before, after in zip(originals, enriched[: len(originals)], strict=True):
        assert after["album_url"] == fake.tracks[before["id"]]["album"]["images"][1]["url"]
        expected_pop = "7" if after["id"] == originals[1]["id"] else before["popularity"]
        assert after["popularity"] == expected_pop
        assert after["release_date"] == before["release_date"]
        assert after["explicit"] in ("True", "False")
        for column in ("lyrics", "danceability", "tempo", "genre", "artists", "name"):
            assert after[column] == before[column]

    # Re-reading gives the same tracks, but for the filled fields.
    filled = {"album_url", "popularity", "explicit", "release_date"}
    old = [t for batch in read_catalog(path) for t in batch]
    new = [t for batch in read_catalog(out) for t in batch]
    assert [t.model_dump(exclude=filled) for t in old] == [
        t.model_dump(exclude=filled) for t in new
    ]

    before = fake.total()
    again = enrich_catalog(out, tmp_path / "again.csv", client)
    assert fake.total() == before and again.http_requests == 0
    assert again.enriched == 0
    assert (tmp_path / "again.csv").read_bytes() == out.read_bytes()


def test_fetch_new_tracks_are_indexed_by_the_real_indexer(
    fake, client, tmp_path, indexed_dir, lyrics_encoder
) -> None:
    from core.store.edge import EdgeStore
    from indexer.pipeline import Indexer
    from schemas.tracks import point_id

    indexed = {r["id"] for r in slice_rows()[1]}
    new_ids = [r["id"] for r in KNOWN if r["id"] not in indexed][:12]
    fake.playlists["fresh"] = new_ids[:8]
    out = tmp_path / "new.csv"
    report = fetch_new_tracks(
        client, track_ids=[*new_ids[8:], UNKNOWN_ID], playlist_id="fresh", out_path=out
    )
    assert report.written == 12 and report.not_found == [UNKNOWN_ID]
    with out.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert set(reader.fieldnames or []) == {*HEADER, "album_url"} == set(KAGGLE_COLUMNS)
        assert [r["id"] for r in reader] == [*new_ids[8:], *new_ids[:8]]
    tracks = [t for batch in read_catalog(out) for t in batch]
    assert len(tracks) == 12
    assert all(t.audio is None and t.lyrics is None and t.album_url for t in tracks)

    shutil.copytree(indexed_dir / "qdrant", tmp_path / "qdrant")
    settings = make_settings(tmp_path)
    store = EdgeStore(settings.qdrant_path, settings.collection)
    try:
        before = store.count()
        result = Indexer(store, [lyrics_encoder], batch_size=32, progress=False).run(out)
        assert result.indexed == 12 and result.rejected == 0
        assert store.count() == before + 12
        point = store.retrieve([point_id(new_ids[0])])[0]
        assert point.payload["album_url"] == tracks[-8].album_url
        assert point.payload["has_lyrics"] is False
    finally:
        store.close()


# --- CLI --------------------------------------------------------------------------------------
def _cli_env(monkeypatch, tmp_path: Path, settings=None) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(tmp_path))
    for name in (
        "SPOTIFY_CLIENT_ID",
        "SPOTIFY_CLIENT_SECRET",
        "SPOTIPY_CLIENT_ID",
        "SPOTIPY_CLIENT_SECRET",
        "MUSICREC_SPOTIFY_CLIENT_ID",
        "MUSICREC_SPOTIFY_CLIENT_SECRET",
    ):
        monkeypatch.delenv(name, raising=False)
    if settings is not None:
        monkeypatch.setenv("SPOTIFY_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", CLIENT_SECRET)
        monkeypatch.setenv("MUSICREC_SPOTIFY_API_URL", settings.spotify_api_url)
        monkeypatch.setenv("MUSICREC_SPOTIFY_AUTH_URL", settings.spotify_auth_url)


def test_missing_credentials(monkeypatch, tmp_path, capsys, caplog) -> None:
    from cli.app import main

    _cli_env(monkeypatch, tmp_path)
    with caplog.at_level(logging.WARNING, logger="core.spotify.client"):
        assert build_spotify_client(make_settings(tmp_path)) is None
    assert "SPOTIFY_CLIENT_ID" in caplog.text
    catalog = write_catalog(tmp_path / "c.csv", HEADER, KNOWN[:2])
    assert main(["enrich", str(catalog), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "SPOTIFY_CLIENT_ID" in err and "SPOTIFY_CLIENT_SECRET" in err
    assert main(["spotify-fetch", "--tracks", KNOWN[0]["id"], "--out", "o.csv"]) == 2
    assert not (tmp_path / "o.csv").exists()


def test_cli_enrich_and_fetch(fake, settings_for, monkeypatch, tmp_path, capsys) -> None:
    from cli.app import main

    _cli_env(monkeypatch, tmp_path, settings_for())
    catalog = write_catalog(tmp_path / "c.csv", HEADER, KNOWN[:5])
    assert main(["enrich", str(catalog), "--out", str(tmp_path / "e.csv")]) == 0
    out = capsys.readouterr().out
    assert "5 rows: 5 enriched" in out and "5 album_url" in out
    code = main(["spotify-fetch", "--search", KNOWN[0]["name"], "--limit", "3", "--out", "f.csv"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "f.csv").is_file()
    fake.fail(503, times=100)
    monkeypatch.setenv("MUSICREC_SPOTIFY_MAX_RETRY_SECONDS", "0.5")
    assert main(["spotify-fetch", "--tracks", KNOWN[9]["id"], "--out", "g.csv"]) == 1
    assert "retry budget" in capsys.readouterr().err


# --- API --------------------------------------------------------------------------------------
API_KEY = "spotify-test-key-0123456789"


def test_api_refresh_updates_the_payload(
    fake, settings_for, indexed_dir, tmp_path, monkeypatch
) -> None:
    from api.main import create_app

    shutil.copytree(indexed_dir / "qdrant", tmp_path / "qdrant")
    row = next(r for r in slice_rows()[1] if r["album_name"] and r["popularity"])
    other = next(r for r in slice_rows()[1] if r["album_name"] and r["id"] != row["id"])
    monkeypatch.setitem(fake.tracks, row["id"], {**fake.tracks[row["id"]], "popularity": 99})
    settings = settings_for(tmp_path, spotify_max_retry_seconds=1, api_key=API_KEY)
    with LiveServer(create_app(settings)) as api:
        plain = api.get(f"/tracks/{row['id']}").json()
        assert plain["album_url"] is None and plain["popularity"] == int(row["popularity"])
        # Reading never writes: the old `?refresh=true` is ignored (no Spotify call).
        assert api.get(f"/tracks/{row['id']}", params={"refresh": "true"}).json() == plain
        assert fake.total() == 0

        refresh = f"/tracks/{row['id']}/refresh"
        assert api.post(refresh).status_code == 401  # a write: the key is required
        assert api.post(refresh, headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 403
        assert fake.total() == 0 and api.get(f"/tracks/{row['id']}").json() == plain

        key = {"X-API-Key": API_KEY}
        fresh = api.post(refresh, headers=key)
        assert fresh.status_code == 200, fresh.text
        body = fresh.json()
        assert body["popularity"] == 99
        assert body["album_url"] == fake.tracks[row["id"]]["album"]["images"][1]["url"]
        assert body["name"] == row["name"] and body["has_lyrics"] == plain["has_lyrics"]

        again = api.get(f"/tracks/{row['id']}").json()  # the store itself was updated
        assert again == body
        calls = fake.total()
        assert api.post(refresh, headers=key).json() == body
        assert fake.total() == calls  # within the TTL: from the cache

        fake.fail(503, times=100)
        down = api.post(f"/tracks/{other['id']}/refresh", headers=key)
        assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1
        assert "retry budget" in down.json()["detail"]
        assert api.post("/tracks/does-not-exist/refresh", headers=key).status_code == 404


def test_api_refresh_without_credentials_is_409(indexed_dir, tmp_path) -> None:
    from api.main import create_app

    shutil.copytree(indexed_dir / "qdrant", tmp_path / "qdrant")
    track_id = slice_rows()[1][0]["id"]
    settings = make_settings(tmp_path, cover_encoder="none", api_key=API_KEY)
    with LiveServer(create_app(settings)) as api:
        refused = api.post(f"/tracks/{track_id}/refresh", headers={"X-API-Key": API_KEY})
        assert refused.status_code == 409
        assert "Spotify is not configured" in refused.json()["detail"]
        assert "SPOTIFY_CLIENT_ID" in refused.json()["detail"]
        assert api.get(f"/tracks/{track_id}").status_code == 200
