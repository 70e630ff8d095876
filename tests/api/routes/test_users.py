"""The collaborative half over real HTTP: LightFM trained on real playlists reranks content
candidates; interactions recorded by the API seed users and feed the next training run."""

from __future__ import annotations

import csv
import shutil

import pytest

from api.main import create_app
from cli.app import main as cli_main
from core.collab.artefact import load_latest
from core.store.edge import EdgeStore
from indexer.pipeline import Indexer
from tests.conftest import DEMO_TRACKS, ROOT, LiveServer, demo_rows, make_settings, write_catalog

INTERACTIONS = ROOT / "data" / "demo" / "interactions.csv"
KEY = "users-test-key-0123456789"
AUTH = {"X-API-Key": KEY}


def serve(data_dir) -> LiveServer:
    return LiveServer(create_app(make_settings(data_dir, api_key=KEY)), headers=AUTH)


pytestmark = pytest.mark.slow


def playlists() -> dict[str, list[str]]:
    by_user: dict[str, list[str]] = {}
    with INTERACTIONS.open(newline="") as fh:
        for row in csv.DictReader(fh):
            by_user.setdefault(row["user_id"], []).append(row["track_id"])
    return by_user


USERS = playlists()
# The two largest playlists, ties broken by id so every test module picks the same two.
USER, OTHER = sorted(USERS, key=lambda u: (-len(USERS[u]), u))[:2]


def slice_ids() -> list[str]:
    """Two whole playlists plus 20 tracks with lyrics."""
    _, rows = demo_rows()
    wanted = set(USERS[USER]) | set(USERS[OTHER])
    extra = [r["id"] for r in rows if r["lyrics"].strip() and r["id"] not in wanted][:20]
    return [r["id"] for r in rows if r["id"] in wanted] + extra


def index_and_train(root, header: list[str], rows: list[dict], lyrics_encoder) -> None:
    """Index `rows` into `root`'s embedded collection and train LightFM on the demo."""
    path = write_catalog(root / "catalog.csv", header, rows)
    settings = make_settings(root)
    store = EdgeStore(settings.qdrant_path, settings.collection)
    Indexer(store, [lyrics_encoder], batch_size=64, progress=False).run(path)
    store.close()
    with pytest.MonkeyPatch.context() as mp:
        train(root, mp)


def train(data_dir, monkeypatch, *extra: str) -> None:
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(data_dir))
    argv = ["--catalog", str(DEMO_TRACKS), "--interactions", str(INTERACTIONS), *extra]
    assert cli_main(["train", *argv]) == 0


@pytest.fixture(scope="module")
def data_dir(module_dir, lyrics_encoder):
    """Two whole playlists plus some lyrics tracks, indexed; LightFM trained on the demo."""
    header, rows = demo_rows()
    chosen = set(slice_ids())
    root = module_dir
    index_and_train(root, header, [r for r in rows if r["id"] in chosen], lyrics_encoder)
    return root


@pytest.fixture(scope="module")
def api(data_dir):
    with serve(data_dir) as client:
        yield client


def copy_without_server(data_dir, tmp_path, *, models: bool = True):
    """A copy the test may serve itself: the module's server owns the original shard."""
    shutil.copytree(data_dir / "qdrant", tmp_path / "qdrant")
    if models:
        shutil.copytree(data_dir / "models", tmp_path / "models")
    for db in data_dir.glob("musicrec.db*"):  # SQLite in WAL mode: the -wal file holds commits
        shutil.copy(db, tmp_path / db.name)
    return tmp_path


def ranks(items: list[dict]) -> dict[str, int]:
    return {item["track"]["id"]: i for i, item in enumerate(items)}


def test_health_reports_the_model(api) -> None:
    collab = api.get("/health").json()["collaborative"]
    assert collab["status"] == "loaded"
    assert collab["version"].startswith("lightfm-")
    assert collab["users"] >= 2


def test_user_recommendations_are_blended_and_exclude_known_tracks(api) -> None:
    """The linear blend, asked for by collab_weight (without it the learned ranker ranks:
    tests/api/routes/test_users_ranker.py)."""
    params = {"limit": 20, "collab_weight": 0.8}
    body = api.get(f"/users/{USER}/recommendations", params=params).json()
    assert body["personalization"]["status"] == "applied"
    assert body["personalization"]["ranker"] == "linear-blend"
    assert body["personalization"]["collab_weight"] == 0.8
    items = body["items"]
    assert items
    assert not {i["track"]["id"] for i in items} & set(USERS[USER])
    for item in items:
        for key in ("content_score", "collaborative_score", "blended_score"):
            assert 0.0 <= item[key] <= 1.0
        assert item["blended_score"] == pytest.approx(
            0.2 * item["content_score"] + 0.8 * item["collaborative_score"], abs=1e-5
        )
    blended = [i["blended_score"] for i in items]
    assert blended == sorted(blended, reverse=True)


def test_collab_weight_moves_collaboratively_strong_tracks_up(api) -> None:
    def get(weight: float) -> list[dict]:
        params = {"limit": 100, "collab_weight": weight}
        return api.get(f"/users/{USER}/recommendations", params=params).json()["items"]

    content_only, collab_only = get(0.0), get(1.0)
    assert [i["content_score"] for i in content_only] == sorted(
        (i["content_score"] for i in content_only), reverse=True
    )
    assert [i["collaborative_score"] for i in collab_only] == sorted(
        (i["collaborative_score"] for i in collab_only), reverse=True
    )
    before, after = ranks(content_only), ranks(collab_only)
    common = [i["track"]["id"] for i in collab_only if i["track"]["id"] in before]
    favourite = common[0]  # the strongest collaborative track content retrieval also found
    assert after[favourite] < before[favourite]
    assert sum(after[t] < before[t] for t in common[:10]) >= 5


def test_the_models_favourites_join_the_candidates(api, data_dir) -> None:
    """Pure collaborative ranking equals LightFM's own top tracks in the collection, even
    those the content query would not have retrieved."""
    model = load_latest(data_dir / "models")
    assert model is not None
    indexed = set(slice_ids())
    expected = [t for t, _ in model.recommend(USER, 3000) if t in indexed][:5]
    body = api.get(f"/users/{USER}/recommendations", params={"collab_weight": 1, "limit": 5})
    assert [i["track"]["id"] for i in body.json()["items"]] == expected


def test_the_model_ranks_the_users_own_playlist_over_the_other(api) -> None:
    """Real signal: LightFM prefers the user's other playlist-mates over the other playlist."""
    seed = USERS[OTHER][0]
    body = api.post(
        "/recommendations",
        json={"positive": [seed], "user_id": USER, "collab_weight": 1.0, "limit": 100},
    ).json()
    top = [i["track"]["id"] for i in body["items"][:10]]
    own = sum(t in USERS[USER] for t in top)
    other = sum(t in USERS[OTHER] for t in top)
    assert own > other


def test_post_recommendations_with_and_without_user(api) -> None:
    seed = USERS[USER][0]
    plain = api.post("/recommendations", json={"positive": [seed]}).json()
    assert plain["personalization"]["status"] == "not-requested"
    assert plain["items"][0]["blended_score"] is None
    body = {"positive": [seed], "user_id": USER, "collab_weight": 0.8}
    personal = api.post("/recommendations", json=body).json()
    assert personal["personalization"] == {
        "user_id": USER,
        "status": "applied",
        "collab_weight": 0.8,
        "model_version": personal["personalization"]["model_version"],
        "ranker": "linear-blend",
        "ranker_version": None,
    }
    assert seed not in {i["track"]["id"] for i in personal["items"]}


def test_unknown_user_without_history_is_404(api) -> None:
    response = api.get("/users/nobody-at-all/recommendations")
    assert response.status_code == 404
    assert "nobody-at-all" in response.json()["detail"]


def test_new_user_gets_content_only_results_flagged(api) -> None:
    tracks = USERS[OTHER][:2]
    events = [{"user_id": "new-listener", "track_id": t} for t in tracks]
    assert api.post("/interactions", json={"events": events}).json() == {
        "recorded": 2,
        "duplicates": 0,
    }
    body = api.get("/users/new-listener/recommendations", params={"limit": 20}).json()
    assert body["personalization"]["status"] == "unknown-user"
    assert body["items"]
    assert all(i["collaborative_score"] is None for i in body["items"])
    assert not {i["track"]["id"] for i in body["items"]} & set(tracks)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"track_id": "x"}, "user_id"),
        ({"user_id": "u", "track_id": "x", "weight": -1}, "weight"),
        ({"user_id": "u", "track_id": "x", "weight": "lots"}, "weight"),
        ({"user_id": "u", "track_id": "x", "timestamp": "yesterday"}, "timestamp"),
        ({"user_id": "u", "track_id": "no-such-track"}, "track_id"),
    ],
)
def test_invalid_events_are_422_naming_the_field(api, event, field) -> None:
    response = api.post("/interactions", json={"events": [event]})
    assert response.status_code == 422
    assert any(field in map(str, err["loc"]) for err in response.json()["detail"])
    assert api.post("/interactions", json={"events": []}).status_code == 422


def test_events_survive_a_restart_and_feed_training(api, data_dir, tmp_path, monkeypatch) -> None:
    events = [{"user_id": "durable", "track_id": t, "weight": 2} for t in USERS[USER][:3]]
    assert api.post("/interactions", json={"events": events}).status_code == 201
    copy = copy_without_server(data_dir, tmp_path)
    with serve(copy) as restarted:
        body = restarted.get("/users/durable/recommendations").json()
        assert body["personalization"]["status"] == "unknown-user"
        assert body["items"]
        train(copy, monkeypatch, "--epochs", "5")
        status = restarted.post("/model/reload").json()
        assert status["status"] == "loaded"
        assert status["version"] != api.get("/health").json()["collaborative"]["version"]
        retrained = restarted.get("/users/durable/recommendations").json()
        assert retrained["personalization"]["status"] == "applied"


def test_without_a_model_results_are_content_only(data_dir, tmp_path) -> None:
    copy = copy_without_server(data_dir, tmp_path, models=False)
    with serve(copy) as client:
        health = client.get("/health").json()
        assert health["collaborative"]["status"] == "missing"
        assert "musicrec train" in health["collaborative"]["detail"]
        assert health["ranker"]["status"] == "missing"  # the linear blend serves
        body = client.get(f"/users/{USER}/recommendations")
        assert body.status_code == 404  # no model and no recorded events: nothing to seed
        seed = USERS[USER][0]
        personal = client.post("/recommendations", json={"positive": [seed], "user_id": USER})
        assert personal.json()["personalization"]["status"] == "no-model"
        assert personal.json()["items"][0]["collaborative_score"] is None
