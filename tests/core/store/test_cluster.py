"""Cluster settings reach the server's collection creation and are recorded with it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from qdrant_client import QdrantClient

from core.store.client import ClientStore
from core.store.cluster import CLUSTER_KEY, ClusterConfig
from core.store.factory import open_store
from schemas.settings import SettingsError, load_settings
from tests.conftest import make_settings
from tests.core.store.contract import LAYOUT, make_points
from tests.core.store.test_contract import _compose_qdrant_image, _docker_reason


class CallRecordingClient(QdrantClient):
    """A real qdrant-client (local mode) that also keeps the keyword arguments of the calls
    whose cluster parameters local mode accepts but cannot act on (it has one replica)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: dict[str, list[dict[str, Any]]] = {}

    def _record(self, name: str, kwargs: dict[str, Any]) -> None:
        self.calls.setdefault(name, []).append(kwargs)

    def create_collection(self, collection_name: str, **kwargs: Any) -> bool:
        self._record("create_collection", kwargs)
        return super().create_collection(collection_name, **kwargs)

    def upsert(self, collection_name: str, points: Any, **kwargs: Any) -> Any:
        self._record("upsert", kwargs)
        return super().upsert(collection_name, points, **kwargs)

    def query_points(self, collection_name: str, **kwargs: Any) -> Any:
        self._record("query_points", kwargs)
        return super().query_points(collection_name, **kwargs)


CLUSTER_ENV = {
    "MUSICREC_SHARD_NUMBER": "6",
    "MUSICREC_REPLICATION_FACTOR": "2",
    "MUSICREC_WRITE_CONSISTENCY_FACTOR": "2",
    "MUSICREC_WRITE_ORDERING": "medium",
    "MUSICREC_READ_CONSISTENCY": "majority",
}


def test_settings_reach_creation_writes_reads_and_metadata(monkeypatch, tmp_path) -> None:
    for key, value in CLUSTER_ENV.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    client = CallRecordingClient(location=":memory:")
    store = ClientStore(client, "c", cluster=ClusterConfig.from_settings(settings))
    store.create(LAYOUT, {"source": "test"})
    store.upsert(make_points()[:5])
    store.search("lyrics", make_points()[1].vectors["lyrics"], limit=3)

    (create,) = client.calls["create_collection"]
    assert (create["shard_number"], create["replication_factor"]) == (6, 2)
    assert create["write_consistency_factor"] == 2
    assert client.calls["upsert"][0]["ordering"].value == "medium"
    assert client.calls["query_points"][0]["consistency"].value == "majority"
    # Recorded with the collection (read back from the engine, not from the call).
    again = ClientStore(client, "c")
    meta = again.read_metadata()
    assert meta[CLUSTER_KEY] == {
        "shard_number": 6,
        "replication_factor": 2,
        "write_consistency_factor": 2,
    }
    assert meta["source"] == "test" and again.layout() == LAYOUT
    store.close()


def test_default_read_consistency_is_any_replica() -> None:
    """Factor 1: any live replica answers, so one node down does not fail reads."""
    assert ClusterConfig().consistency() == 1
    assert ClusterConfig(read_consistency="quorum").consistency().value == "quorum"


def test_write_consistency_above_replication_is_refused(tmp_path) -> None:
    with pytest.raises(SettingsError, match="MUSICREC_WRITE_CONSISTENCY_FACTOR"):
        load_settings(
            _env_file=None, data_dir=tmp_path, replication_factor=1, write_consistency_factor=2
        )
    with pytest.raises(SettingsError, match="MUSICREC_SHARD_NUMBER"):
        load_settings(_env_file=None, data_dir=tmp_path, shard_number=0)


def test_embedded_engine_ignores_cluster_settings_with_a_log_line(tmp_path, caplog) -> None:
    settings = make_settings(tmp_path, shard_number=3, replication_factor=2)
    with caplog.at_level(logging.INFO, logger="core.store.factory"):
        store = open_store(settings)
    assert store.engine == "edge"
    assert "cluster settings" in caplog.text and "ignored" in caplog.text
    store.create(LAYOUT, {})
    assert CLUSTER_KEY not in store.read_metadata()
    store.close()


@pytest.mark.slow
@pytest.mark.skipif(_docker_reason() is not None, reason=str(_docker_reason()))
def test_a_real_server_creates_the_collection_with_the_settings() -> None:
    """The image docker-compose.yml pins, single node: it accepts and reports the shard number
    (replication needs more nodes to mean anything, but is recorded all the same)."""
    from testcontainers.qdrant import QdrantContainer

    with QdrantContainer(_compose_qdrant_image()) as qdrant:
        client = QdrantClient(url=f"http://{qdrant.rest_host_address}")
        store = ClientStore(client, "c", cluster=ClusterConfig(shard_number=3))
        store.create(LAYOUT, {})
        store.upsert(make_points())
        params = client.get_collection("c").config.params
        assert params.shard_number == 3 and store.count() == len(make_points())
        assert store.read_metadata()[CLUSTER_KEY]["shard_number"] == 3
        store.close()
