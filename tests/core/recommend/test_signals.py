"""The per-modality cosines every candidate carries, on both engines: the engine's dense
scores and the vectorised sparse cosine agree with the plain cosine point by point, and a
missing vector stays missing."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.recommend.signals import Similarity, sparse_cosines
from core.store import PointRecord, VectorStore
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from schemas.layout import build_layout
from schemas.tracks import point_id
from schemas.vectors import SparseVector, cosine

LAYOUT = build_layout(
    {"audio": (13, "test-audio"), "lyrics": (8, "test-lyrics")}, {"lyrics_terms": "test-bm25"}
)


def points() -> list[PointRecord]:
    """30 points with audio; two in three with lyrics and terms."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(30):
        vectors: dict = {"audio": rng.normal(size=13).tolist()}
        if i % 3:
            vectors["lyrics"] = rng.normal(size=8).tolist()
            vectors["lyrics_terms"] = SparseVector((5, 9, 11 + i), (1.0, float(i), 0.3))
        out.append(PointRecord(point_id(f"t{i}"), vectors, {"track_id": f"t{i}"}))
    return out


@pytest.fixture(params=["edge", "memory"])
def store(request, tmp_path):
    s: VectorStore = (
        EdgeStore(tmp_path / "q", "signals")
        if request.param == "edge"
        else ClientStore(QdrantClient(location=":memory:"), "signals", engine="memory")
    )
    s.create(LAYOUT, {})
    s.upsert(points())
    yield s
    s.close()


def test_cosines_match_the_plain_cosine_and_keep_missing_missing(store) -> None:
    rng = np.random.default_rng(1)
    queries = {
        "audio": rng.normal(size=13).tolist(),
        "lyrics": rng.normal(size=8).tolist(),
        "lyrics_terms": SparseVector((1, 5, 9), (1.0, 0.5, 2.0)),
    }
    written = {p.id: p for p in points()}
    # As the pool reads them: payloads and the sparse vectors only.
    read = store.retrieve(list(written), with_vectors=["lyrics_terms"])
    sims = Similarity(store, queries).many(read)
    assert len(sims) == len(read) == 30
    for record, got in zip(read, sims, strict=True):
        assert list(got) == list(queries)
        for name, q in queries.items():
            if name in written[record.id].vectors:
                expected = cosine(q, written[record.id].vectors[name])
                assert got[name] == pytest.approx(expected, abs=1e-5)
            else:
                assert got[name] is None
    assert Similarity(store, queries).many([]) == []


def test_sparse_cosines_handle_unsorted_queries_and_empty_vectors() -> None:
    query = SparseVector((9, 1, 5), (2.0, 1.0, 0.5))
    vectors = [SparseVector((1, 9), (1.0, 1.0)), None, SparseVector((), ()), [0.1, 0.2]]
    got = sparse_cosines(query, vectors)
    assert set(got) == {0, 2}
    assert got[0] == pytest.approx(cosine(query, vectors[0]), abs=1e-6)
    assert got[2] == 0.0
    assert sparse_cosines(SparseVector((), ()), vectors) == {0: 0.0, 2: 0.0}
