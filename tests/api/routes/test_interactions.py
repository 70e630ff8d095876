"""Interactions, listeners and online evaluation over real HTTP: validation, idempotent
retries, a locked database (503, nothing written), `/users` behind the key, `/stats` after a
scripted session, and two API processes sharing one real PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from core.interactions.store import SqlInteractionStore
from tests.conftest import LiveServer, make_settings, slice_rows
from tests.fixtures.api_process import ApiProcess

KEY = "interactions-key"
AUTH = {"X-API-Key": KEY}
_, ROWS = slice_rows()
TRACKS = [r["id"] for r in ROWS if r["lyrics"].strip()][:12]


@pytest.fixture(scope="module")
def data_copy(indexed_dir, module_dir):
    """Each server owns its copy of the indexed shard (an embedded shard has one owner)."""
    root = module_dir

    def make(name: str) -> Path:
        target = root / name
        shutil.copytree(indexed_dir / "qdrant", target / "qdrant")
        return target

    return make


@pytest.fixture(scope="module")
def api(data_copy) -> Iterator[httpx.Client]:
    settings = make_settings(data_copy("main"), api_key=KEY)
    with LiveServer(create_app(settings), headers=AUTH) as client:
        yield client


def events(user: str, tracks: list[str], **extra) -> dict:
    return {"events": [{"user_id": user, "track_id": t, **extra} for t in tracks]}


def test_a_retried_request_adds_nothing(api) -> None:
    body = {
        "events": [
            {"user_id": "retry", "track_id": t, "event_id": f"e-{i}", "kind": "like"}
            for i, t in enumerate(TRACKS[:3])
        ]
    }
    first = api.post("/interactions", json=body)
    assert (first.status_code, first.json()) == (201, {"recorded": 3, "duplicates": 0})
    again = api.post("/interactions", json=body)
    assert (again.status_code, again.json()) == (201, {"recorded": 0, "duplicates": 3})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"user_id": "\\u001c", "track_id": "%s"}', "user_id"),
        ('{"user_id": "a\\u0000b", "track_id": "%s"}', "user_id"),
        ('{"user_id": "\\ud800", "track_id": "%s"}', "user_id"),
        ('{"user_id": "u", "track_id": "%s", "event_id": "\\udfff"}', "event_id"),
        ('{"user_id": "u", "track_id": "%s", "kind": "stolen"}', "kind"),
    ],
)
def test_unstorable_ids_are_422_naming_the_field(api, raw: str, field: str) -> None:
    content = ('{"events": [' + raw % TRACKS[0] + "]}").encode()
    response = api.post(
        "/interactions", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert any(field in map(str, err["loc"]) for err in response.json()["detail"])


def test_listing_users_needs_the_key(api) -> None:
    api.post("/interactions", json=events("lister", TRACKS[:1]))
    refused = httpx.get(f"{api.base_url}/users")
    assert refused.status_code == 401
    listed = api.get("/users", params={"limit": 1000}).json()
    assert "lister" in {u["id"] for u in listed["users"]}


def test_stats_count_a_hit_after_a_scripted_session(api) -> None:
    assert api.post("/interactions", json=events("session", TRACKS[:2])).status_code == 201
    served = api.get("/users/session/recommendations", params={"limit": 10}).json()
    assert served["request_id"]
    played = served["items"][3]["track"]["id"]
    plain = api.post("/recommendations", json={"positive": TRACKS[:1]}).json()
    assert plain["request_id"] is None  # not personalised: not logged
    personal = api.post("/recommendations", json={"positive": TRACKS[:1], "user_id": "session"})
    assert personal.json()["request_id"]
    also_served = played in {i["track"]["id"] for i in personal.json()["items"][:10]}
    before = api.get("/stats").json()
    assert before["days"] and all(d["hits"] == 0 for d in before["days"])
    assert api.post("/interactions", json=events("session", [played])).status_code == 201
    after = api.get("/stats").json()
    (day,) = after["days"]
    assert (day["requests"], day["users"], day["hits"]) == (2, 1, 1 + also_served)
    assert day["hit_rate"] == (1 + also_served) / 2
    assert day["model_version"] == "content-only"
    assert after["catalog_size"] and 0 < day["coverage"] <= 1


def test_a_locked_database_is_503_and_nothing_is_written(data_copy) -> None:
    root = data_copy("locked")
    settings = make_settings(root, api_key=KEY, database_busy_timeout=0.3)
    with LiveServer(create_app(settings), headers=AUTH) as client:
        assert client.post("/interactions", json=events("x", TRACKS[:1])).status_code == 201
        holder = sqlite3.connect(root / "musicrec.db", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another writer that does not let go
        try:
            refused = client.post("/interactions", json=events("x", TRACKS[1:4]))
            assert refused.status_code == 503
            assert refused.headers["Retry-After"]
            assert "locked" in refused.json()["detail"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.post("/interactions", json=events("x", TRACKS[4:5])).status_code == 201
    store = SqlInteractionStore.open(f"sqlite:///{root}/musicrec.db")
    assert store.recent("x") == [TRACKS[4], TRACKS[0]]
    store.close()


def test_protected_reads_cover_a_users_recommendations(data_copy) -> None:
    settings = make_settings(data_copy("private"), api_key=KEY, protect_reads=True)
    with LiveServer(create_app(settings)) as client:
        assert client.get("/users/anyone/recommendations").status_code == 401
        assert client.get("/stats").status_code == 401
        assert client.get("/stats", headers=AUTH).status_code == 200


# --- two API processes, one PostgreSQL ----------------------------------------------------


@pytest.mark.slow
def test_two_api_processes_share_one_postgresql(data_copy, postgres_cluster) -> None:
    url = postgres_cluster.new_database()
    env = {"MUSICREC_DATABASE_URL": url, "MUSICREC_API_KEY": KEY}
    first, second = ApiProcess(data_copy("pg-a"), **env), ApiProcess(data_copy("pg-b"), **env)
    try:
        a, b = first.wait().client(**AUTH), second.wait().client(**AUTH)
        assert b.get("/users/shared/recommendations").status_code == 404  # nothing yet
        assert a.post("/interactions", json=events("shared", TRACKS[:1])).status_code == 201
        seen = b.get("/users/shared/recommendations", params={"limit": 10})
        assert seen.status_code == 200  # the other process's event, at once
        before = [i["track"]["id"] for i in seen.json()["items"]]
        assert a.post("/interactions", json=events("shared", before[:1])).status_code == 201
        after = [i["track"]["id"] for i in b.get("/users/shared/recommendations").json()["items"]]
        assert before[0] not in after and after != before
        assert "shared" in {u["id"] for u in a.get("/users").json()["users"]}
        assert a.get("/stats").json()["days"][0]["requests"] == 2
    finally:
        first.stop()
        second.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_db_api(request, data_copy) -> Iterator[httpx.Client]:
    """The API on each database the product supports (a real PostgreSQL 15 for the second)."""
    extra = {}
    if request.param == "postgresql":
        extra["database_url"] = request.getfixturevalue("postgres_cluster").new_database()
    settings = make_settings(data_copy(f"edges-{request.param}"), api_key=KEY, **extra)
    with LiveServer(create_app(settings), headers=AUTH) as client:
        yield client


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('"timestamp": "0001-01-01T00:00:00+14:00"', "timestamp"),
        ('"timestamp": "9999-12-31T23:59:59-14:00"', "timestamp"),
        ('"timestamp": 1e400', "timestamp"),
        ('"weight": NaN', "weight"),
        ('"weight": Infinity', "weight"),
        ('"weight": -Infinity', "weight"),
        ('"weight": 1e400', "weight"),
    ],
)
def test_unstorable_numbers_and_times_are_422_on_every_database(any_db_api, extra, field) -> None:
    """Before: an OverflowError in `utc_naive` (times) and the 422 handler failing to echo
    NaN (numbers): a 500 with a traceback on both databases."""
    content = f'{{"events": [{{"user_id": "edge", "track_id": "{TRACKS[0]}", {extra}}}]}}'
    response = any_db_api.post(
        "/interactions", content=content.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert any(field in map(str, err["loc"]) for err in response.json()["detail"])


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00-01:00", "9999-12-31T22:59:59+00:00"])
def test_the_extreme_storable_times_are_stored(any_db_api, moment) -> None:
    body = events("edge-ok", TRACKS[:1], timestamp=moment, event_id=f"edge-{moment[:4]}")
    assert any_db_api.post("/interactions", json=body).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        '{"positive": ["%s"], "limit": NaN}',
        '{"positive": ["%s"], "limit": 1e400}',
        '{"positive": ["%s"], "weights": {"audio": Infinity}}',
        '{"positive": ["%s"], "weights": {"lyrics": NaN}}',
        '{"positive": ["%s"], "collab_weight": NaN, "user_id": "u"}',
        '{"positive": ["%s"], "filters": {"year_min": -Infinity}}',
    ],
)
def test_non_finite_numbers_without_a_key_are_422(api, body) -> None:
    content = (body % TRACKS[0]).encode()
    response = httpx.post(
        f"{api.base_url}/recommendations",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_invented_users_add_nothing_to_the_served_log(data_copy) -> None:
    """Before: 200 anonymous requests for invented ids added 200 served lists and moved /stats
    users from 108 to 308. Now only users who exist are logged, each client within
    MUSICREC_RATE_LIMIT_SERVED_LOG; the recommendations are answered either way."""
    settings = make_settings(data_copy("served-log"), api_key=KEY, rate_limit_served_log="3/minute")
    with LiveServer(create_app(settings)) as client:
        base = str(client.base_url)
        for i in range(20):
            answer = httpx.post(
                f"{base}/recommendations", json={"positive": TRACKS[:1], "user_id": f"made-up-{i}"}
            )
            assert answer.status_code == 200 and answer.json()["request_id"] is None
        assert client.get("/stats").json()["days"] == []
        stored = client.post("/interactions", json=events("real", TRACKS[:2]), headers=AUTH)
        assert stored.status_code == 201
        ids = [
            httpx.get(f"{base}/users/real/recommendations").json()["request_id"] for _ in range(5)
        ]
        assert all(ids[:3]) and ids[3:] == [None, None]  # the client's budget: 3 a minute
        (day,) = client.get("/stats").json()["days"]
        assert (day["requests"], day["users"]) == (3, 1)


@pytest.mark.slow
def test_a_database_outage_does_not_tell_callers_where_the_database_is(data_copy) -> None:
    """PostgreSQL stopped under a running API: the 503 said `connection to server at
    "127.0.0.1", port N failed` to anyone; now it says the database is unreachable."""
    from tests.fixtures.postgres import PostgresCluster, missing_reason

    if missing_reason():
        pytest.skip(missing_reason())
    cluster = PostgresCluster().start()
    stopped = False
    try:
        url = cluster.new_database()
        settings = make_settings(data_copy("outage"), api_key=KEY, database_url=url)
        with LiveServer(create_app(settings), headers=AUTH) as client:
            assert client.post("/interactions", json=events("o", TRACKS[:1])).status_code == 201
            cluster._run(str(cluster.bin / "pg_ctl"), "-D", str(cluster.data), "-m", "fast", "stop")
            stopped = True
            refused = client.post("/interactions", json=events("o", TRACKS[1:2]))
            assert refused.status_code == 503, refused.text
            detail = refused.json()["detail"]
            assert "unreachable" in detail
            assert "127.0.0.1" not in detail and str(cluster.port) not in detail
    finally:
        if stopped:
            shutil.rmtree(cluster.root, ignore_errors=True)
        else:
            cluster.stop()
