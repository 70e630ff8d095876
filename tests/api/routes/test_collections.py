"""The collections console's API on both engines (Qdrant Edge, qdrant-client's on-disk local
mode), served by a real uvicorn: listing with counts, details, paging through every point,
a snapshot of the collection being served (which keeps serving) and a confirmed drop."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from qdrant_client import QdrantClient

from api.main import create_app
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from tests.conftest import LiveServer, make_settings
from tests.core.store.contract import LAYOUT, N, make_points

KEY = "collections-key-0123456789"
METADATA = {"audio_scaler": {"mean": [0.0]}, "source": "catalog.csv", "created_at": "2026-01-01"}
COLLECTIONS = {"tracks": N, "other": 7, "scratch": 3}


def fill(store, n: int) -> None:
    store.create(LAYOUT, METADATA)
    store.upsert(make_points()[:n])


@pytest.fixture(scope="module", params=["edge", "local"])
def engine(request, module_dir) -> Iterator[tuple[str, httpx.Client, Path]]:
    """A live API over three collections of one engine; yields (engine, keyed client, data)."""
    data = module_dir / request.param
    overrides: dict[str, object] = {"api_key": KEY, "cover_encoder": "none"}
    if request.param == "edge":
        for name, n in COLLECTIONS.items():
            store = EdgeStore(data / "qdrant", name)
            fill(store, n)
            store.close()
    else:
        client = QdrantClient(path=str(data / "local"))
        for name, n in COLLECTIONS.items():
            fill(ClientStore(client, name, engine="local"), n)
        client.close()
        overrides["qdrant_url"] = f"file://{data / 'local'}"
    live = LiveServer(create_app(make_settings(data, **overrides)), {"X-API-Key": KEY})
    with live as client:
        yield request.param, client, data


def test_lists_every_collection_with_its_count(engine) -> None:
    _, client, _ = engine
    body = client.get("/collections").json()
    assert body["serving"] == "tracks"
    assert body["dashboard_url"] is None  # no server, no dashboard
    counts = {c["name"]: c["points"] for c in body["collections"]}
    assert counts == COLLECTIONS
    assert [c["name"] for c in body["collections"] if c["serving"]] == ["tracks"]


def test_details_show_vectors_indexes_and_the_metadata_of_creation(engine) -> None:
    name, client, _ = engine
    body = client.get("/collections/other").json()
    assert body["points"] == 7
    assert body["vectors"]["lyrics"] == "16-d cosine, test-lyrics"
    assert body["vectors"]["terms"].startswith("sparse")
    if name == "edge":
        assert set(body["payload_indexes"]) == set(LAYOUT.payload_indexes)
        assert body["payload_indexes"]["genre"] == "keyword (7 points)"
        assert body["disk_bytes"] > 0
    else:  # qdrant-client's local mode keeps no payload index
        assert body["payload_indexes"] == {}
    assert body["metadata"] == {"source": "catalog.csv", "created_at": "2026-01-01"}
    assert client.get("/collections/missing").status_code == 404
    assert client.get("/collections/..%2Fqdrant").status_code in (404, 422)


def test_pages_walk_every_point_once(engine) -> None:
    _, client, _ = engine
    seen: list[str] = []
    offset = None
    while True:
        params = {"limit": 50, **({"offset": offset} if offset else {})}
        page = client.get("/collections/tracks/points", params=params).json()
        assert len(page["points"]) <= 50
        seen += [p["payload"]["track_id"] for p in page["points"]]
        offset = page["next_offset"]
        if offset is None:
            break
    assert sorted(seen) == sorted(f"t{i}" for i in range(N))
    assert client.get("/collections/tracks/points", params={"limit": 0}).status_code == 422


def test_a_snapshot_of_the_served_collection_keeps_it_serving(engine) -> None:
    name, client, data = engine
    assert httpx.post(f"{client.base_url}/collections/tracks/snapshot").status_code == 401
    response = client.post("/collections/tracks/snapshot")
    if name == "local":  # qdrant-client's local mode has no snapshots: said, not retried
        assert response.status_code == 409
        assert "no snapshots" in response.json()["detail"]
        return
    assert response.status_code == 201
    archive = Path(response.json()["snapshot"])
    assert archive.parent == data / "snapshots"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "tracks.musicrec.json" in names and "tracks/edge_config.json" in names
    assert client.get("/collections/tracks").json()["points"] == N  # the shard reopened
    assert client.get("/health").json()["points"] == N


def test_a_drop_needs_the_key_and_the_name_typed_again(engine) -> None:
    _, client, _ = engine
    assert httpx.delete(f"{client.base_url}/collections/scratch").status_code in (401, 422)
    anonymous = httpx.delete(f"{client.base_url}/collections/scratch?confirm=scratch")
    assert anonymous.status_code == 401
    wrong = client.delete("/collections/scratch", params={"confirm": "scratc"})
    assert wrong.status_code == 422 and "repeat the name" in wrong.json()["detail"]
    assert client.get("/collections/scratch").status_code == 200  # still there
    assert client.delete("/collections/scratch", params={"confirm": "scratch"}).status_code == 204
    assert client.get("/collections/scratch").status_code == 404
    names = [c["name"] for c in client.get("/collections").json()["collections"]]
    assert names == ["other", "tracks"]


def test_an_embedded_collection_open_elsewhere_is_not_dropped(engine) -> None:
    """Another process owning the shard (an indexer): the drop is refused, no file removed."""
    name, client, data = engine
    if name != "edge":
        pytest.skip("the shard lock is the embedded engine's")
    shard = data / "qdrant" / "other"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, qdrant_edge as qe; s = qe.EdgeShard.load(sys.argv[1]);"
            " print('open', flush=True); sys.stdin.read()",
            str(shard),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        refused = client.delete("/collections/other", params={"confirm": "other"})
        assert refused.status_code == 503
        assert "open in another process" in refused.json()["detail"]
        assert (shard / "edge_config.json").exists()
    finally:
        holder.communicate("", timeout=30)
    assert client.get("/collections/other").json()["points"] == 7
