"""The store contract run against every engine this machine can reach."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.store import PointRecord, StoreLockedError
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from schemas.tracks import point_id
from tests.core.store.contract import DIMS, LAYOUT, StoreContract, unit

COMPOSE = Path(__file__).resolve().parents[3] / "docker-compose.yml"


class TestEdgeStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path):
        s = EdgeStore(tmp_path / "qdrant", "contract")
        yield s
        s.close()

    @pytest.fixture
    def quantized_store(self, tmp_path):
        s = EdgeStore(tmp_path / "qdrant", "int8", quantization="int8", exact_search_below=0)
        yield s
        s.close()

    def test_quantization_survives_reopening(self, tmp_path) -> None:
        EdgeStore(tmp_path / "q", "c", quantization="int8").create(LAYOUT, {})
        again = EdgeStore(tmp_path / "q", "c")  # the collection's setting, not the handle's
        assert again.quantization() == "int8"

    def test_reopen_keeps_points(self, tmp_path) -> None:
        from tests.core.store.contract import make_points

        s = EdgeStore(tmp_path / "q", "c")
        s.create(LAYOUT, {})
        s.upsert(make_points())
        s.close()
        again = EdgeStore(tmp_path / "q", "c")
        assert again.count() == len(make_points())
        assert again.layout() == LAYOUT
        again.close()

    def test_second_process_handle_is_refused_clearly(self, tmp_path) -> None:
        owner = EdgeStore(tmp_path / "q", "c")
        owner.create(LAYOUT, {})
        intruder = EdgeStore(tmp_path / "q", "c")
        with pytest.raises(StoreLockedError, match="open in another process"):
            intruder.count()
        owner.close()

    def test_tied_scores_come_back_alike_when_the_same_points_are_indexed_again(
        self, store: EdgeStore
    ) -> None:
        """Duplicate songs share their vectors: an exact tie. Indexed twice from the same
        catalog, the embedded collection must answer in the same order (an evaluation run
        again ranks alike); Qdrant Edge stored one batch in a random order. Not a contract
        of every engine: a Qdrant server spreads points over several segments, and the
        order of ties across them is the server's."""
        vector = unit(np.arange(1.0, DIMS["audio"] + 1)).tolist()
        twins = [
            PointRecord(point_id(f"twin{i}"), {"audio": vector}, {"track_id": f"twin{i}"})
            for i in range(40)
        ]
        orders = []
        for _ in range(2):
            store.create(LAYOUT, {})
            store.upsert(twins)
            hits = store.search("audio", vector, limit=20)
            assert [h.score for h in hits] == pytest.approx([1.0] * 20, abs=1e-5)
            orders.append([h.id for h in hits])
            store.drop()
        assert orders[0] == orders[1]


class TestLocalClientStore(StoreContract):
    """qdrant-client's in-process local mode: the same client code path as a real server."""

    @pytest.fixture
    def store(self):
        s = ClientStore(QdrantClient(location=":memory:"), "contract", engine="memory")
        yield s
        s.close()

    @pytest.fixture
    def quantized_store(self):
        s = ClientStore(
            QdrantClient(location=":memory:"), "int8", engine="memory", quantization="int8"
        )
        yield s
        s.close()

    def test_a_client_has_no_files_to_preload(self, store) -> None:
        """The server (here: the client's own memory) keeps its files; the API reads none."""
        from tests.core.store.contract import make_points

        store.create(LAYOUT, {})
        store.upsert(make_points())
        assert store.local_files() == []


def test_sparse_scores_are_identical_on_both_engines(tmp_path) -> None:
    """Same points, same sparse query: the same BM25-IDF scores (ties may order differently)."""
    from schemas.vectors import SparseVector
    from tests.core.store.contract import COMMON, RARE, TERMS, N, make_points

    edge = EdgeStore(tmp_path / "q", "c")
    local = ClientStore(QdrantClient(location=":memory:"), "c", engine="memory")
    query = SparseVector.from_pairs([(COMMON, 1.0), (RARE, 1.0), (1002, 1.0)])
    results = []
    for store in (edge, local):
        store.create(LAYOUT, {})
        store.upsert(make_points())
        hits = store.search(TERMS, query, limit=N)  # all matches: no tie cut at the limit
        results.append(sorted((-round(h.score, 4), h.id) for h in hits))
        store.close()
    assert results[0] == results[1]


def _compose_qdrant_image() -> str:
    match = re.search(r"image:\s*(qdrant/qdrant:\S+)", COMPOSE.read_text())
    assert match, "docker-compose.yml must pin the qdrant image"
    return match.group(1)


def _docker_reason() -> str | None:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as exc:
        return f"no Docker engine reachable ({type(exc).__name__}); server contract needs one"
    return None


@pytest.mark.slow
@pytest.mark.skipif(_docker_reason() is not None, reason=str(_docker_reason()))
class TestServerStore(StoreContract):
    """A real Qdrant server, the image docker-compose.yml runs, through testcontainers."""

    @pytest.fixture(scope="class")
    def server_url(self):
        from testcontainers.qdrant import QdrantContainer

        with QdrantContainer(_compose_qdrant_image()) as qdrant:
            yield f"http://{qdrant.rest_host_address}"

    @pytest.fixture
    def store(self, server_url, request):
        name = re.sub(r"\W", "_", request.node.name)[:60]
        s = ClientStore(QdrantClient(url=server_url), name)
        if s.exists():
            s.drop()
        yield s
        s.close()

    @pytest.fixture
    def quantized_store(self, server_url, request):
        name = re.sub(r"\W", "_", request.node.name)[:55] + "_int8"
        s = ClientStore(
            QdrantClient(url=server_url), name, quantization="int8", exact_search_below=0
        )
        if s.exists():
            s.drop()
        yield s
        s.close()
