"""Index and train while the API serves, on the embedded engine, over real HTTP: the CLI
finds the API that owns the shard, hands it the job and follows it; the new tracks are
searchable and recommendable without a restart; the next personalised response carries the
newly trained ranker. Also the schedule (a short period) and the job routes' checks."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.main import create_app
from core.store.owner import owner_path
from tests.conftest import LiveServer, free_port, make_settings, metric
from tests.jobs.helpers import FAST, HEADERS, build_world, cli, copy_world, wait_job


@pytest.fixture(scope="module")
def world(module_dir, lyrics_encoder) -> Path:
    """A data dir (indexed base slice + listeners) to copy; new.csv beside it."""
    root = module_dir
    build_world(root / "data", lyrics_encoder, root)
    return root


def serve(data_dir: Path, **overrides: object) -> LiveServer:
    port = free_port()
    settings = make_settings(data_dir, **{**FAST, "api_port": port, **overrides})
    return LiveServer(create_app(settings), port=port)


def test_index_and_train_through_the_owning_api(world, tmp_path) -> None:
    data = copy_world(world / "data", tmp_path / "data")
    server = serve(data)
    with server as client:
        settings = make_settings(data, **{**FAST, "api_port": server.port})
        owner = json.loads(owner_path(settings.qdrant_path, "tracks").read_text())
        assert owner["url"] == server.url
        before = client.get("/health").json()
        assert before["status"] == "ok" and before["points"] == 60
        assert before["ranker"]["status"] == "missing"

        assert client.get("/users/u1/recommendations", params={"limit": 5}).status_code == 200
        assert metric(client, "musicrec_personal_lists") == 1  # u1's list is kept

        done = cli(settings, "index", str(world / "new.csv"), "--no-progress")
        assert done.returncode == 0, done.stderr + done.stdout
        assert "owns the shard" in done.stderr and "succeeded" in done.stdout
        assert client.get("/health").json()["points"] == 90  # served all along, no restart
        assert metric(client, "musicrec_personal_lists") == 0  # the new tracks are candidates
        [job] = [j for j in client.get("/jobs", headers=HEADERS).json()["jobs"]]
        assert job["kind"] == "index" and job["counts"]["indexed"] == 30

        # Searchable: a new track's own lyrics find it; recommendable: it seeds and is served.
        new = client.get("/jobs", headers=HEADERS).json()["jobs"][0]
        assert new["state"] == "succeeded"
        lyrical = next(t for t in _new_tracks(world) if t["lyrics"].strip())
        hits = client.get("/search", params={"q": lyrical["lyrics"][:200], "limit": 3}).json()
        assert lyrical["id"] in [h["track"]["id"] for h in hits["items"]]
        recs = client.post("/recommendations", json={"positive": [lyrical["id"]], "limit": 5})
        assert recs.status_code == 200 and recs.json()["items"]
        plain = next(t for t in _new_tracks(world) if not t["lyrics"].strip())
        assert client.get(f"/tracks/{plain['id']}").status_code == 200

        trained = cli(settings, "train")
        assert trained.returncode == 0, trained.stderr + trained.stdout
        assert "published" in trained.stdout
        jobs = client.get("/jobs", headers=HEADERS).json()["jobs"]
        ranker = jobs[0]["versions"]["ranker"]
        personal = client.get("/users/u1/recommendations", params={"limit": 5}).json()
        assert personal["personalization"]["ranker"] == "learned"
        assert personal["personalization"]["ranker_version"] == ranker
        health = client.get("/health").json()
        assert health["ranker"]["version"] == ranker
        assert client.get("/stats").json()["ranker_version"] == ranker
        assert f'musicrec_ranker_info{{version="{ranker}"}}' in client.get("/metrics").text
    assert not owner_path(settings.qdrant_path, "tracks").exists()  # removed at stop


def _new_tracks(world: Path) -> list[dict[str, str]]:
    import csv

    with (world / "new.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_job_routes_check_key_paths_and_size(world, tmp_path) -> None:
    data = copy_world(world / "data", tmp_path / "data")
    (data / "import").mkdir()
    (data / "import" / "ok.csv").write_bytes((world / "new.csv").read_bytes())
    (tmp_path / "secret.csv").write_text("id\n1\n")
    with serve(data, max_import_bytes=2000) as client:
        assert client.post("/jobs", json={"kind": "train"}).status_code == 401
        for bad in ("../secret.csv", str(tmp_path / "secret.csv"), "missing.csv", "."):
            answer = client.post("/jobs", json={"kind": "index", "path": bad}, headers=HEADERS)
            assert answer.status_code == 400, bad
            assert str(data / "import") not in answer.text  # the server's layout stays private
        big = client.post(
            "/jobs/upload", content=b"x" * 5000, headers={**HEADERS, "content-type": "text/csv"}
        )
        assert big.status_code == 413
        assert client.get("/jobs/nope", headers=HEADERS).status_code == 404
        queued = client.post("/jobs", json={"kind": "index", "path": "ok.csv"}, headers=HEADERS)
        assert queued.status_code == 202
        bad_rows = b"id,name\n,no id\n"
        upload = client.post(
            "/jobs/upload", content=bad_rows, headers={**HEADERS, "content-type": "text/csv"}
        )
        assert upload.status_code == 202
        first = wait_job(client, queued.json()["id"])
        assert first["state"] == "succeeded", first
        rejected = wait_job(client, upload.json()["id"])  # a bad row is reported, by line
        assert rejected["state"] == "succeeded" and rejected["counts"]["rejected"] == 1
        assert [e["line"] for e in rejected["errors"]] == [2], rejected["errors"]
        assert rejected["counts"]["indexed"] == 0


def test_the_schedule_trains_by_itself(world, tmp_path) -> None:
    data = copy_world(world / "data", tmp_path / "data")
    with serve(data, train_every=1, train_check_seconds=0.5) as client:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            jobs = client.get("/jobs", headers=HEADERS).json()["jobs"]
            done = [j for j in jobs if j["state"] == "succeeded"]
            if len(done) >= 2:  # two consecutive models, each published and served
                break
            time.sleep(1)
        else:
            raise AssertionError(f"the schedule did not train twice: {jobs}")
        assert all(j["params"]["trigger"].startswith("every") for j in done)
        assert done[0]["versions"]["model"] != done[1]["versions"]["model"]
        served = client.get("/health").json()["collaborative"]["version"]

        def published() -> list[str | None]:
            jobs = client.get("/jobs", headers=HEADERS).json()["jobs"]
            return [j["versions"].get("model") for j in jobs]

        # The schedule goes on training: a job's model can be served (hot reload) a moment
        # before the job records its versions, so the served one must show up shortly.
        settle = time.monotonic() + 30
        while served not in published() and time.monotonic() < settle:
            time.sleep(0.5)
        assert served in published()
