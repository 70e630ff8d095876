"""The store contract: every engine adapter must pass these same tests.

Like benfred/implicit's recommender mixin: a test class per engine inherits this mixin and
provides the `store` fixture; the guarantees are written once.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.store import PointRecord, TrackFilter, VectorStore
from schemas.layout import build_layout
from schemas.tracks import point_id
from schemas.vectors import SparseVector

DIMS = {"lyrics": 16, "audio": 13}
TERMS = "terms"
LAYOUT = build_layout(
    {name: (dim, f"test-{name}") for name, dim in DIMS.items()}, {TERMS: "test-bm25"}
)
COMMON, RARE = 7, 99_001  # term ids: one in every lyric, one in a single track
GENRES = ["pop", "rock", "rap", "edm"]
N = 120


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def make_points(seed: int = 0) -> list[PointRecord]:
    """Clustered vectors; every 3rd point lacks lyrics, every 7th lacks audio."""
    rng = np.random.default_rng(seed)
    centers = {name: rng.normal(size=(4, dim)) for name, dim in DIMS.items()}
    points = []
    for i in range(N):
        vectors = {}
        for name, dim in DIMS.items():
            if (name == "lyrics" and i % 3 == 0) or (name == "audio" and i % 7 == 0):
                continue
            vectors[name] = (centers[name][i % 4] + 0.3 * rng.normal(size=dim)).tolist()
        if "lyrics" in vectors:
            # Every lyric has the common term (twice as often in track 10); only track 11
            # has the rare one, so IDF alone decides who wins a query for both.
            terms = [(COMMON, 2.0 if i == 10 else 1.0), (1000 + i % 5, 0.5)]
            if i == 11:
                terms.append((RARE, 1.0))
            vectors[TERMS] = SparseVector.from_pairs(terms)
        payload = {
            "track_id": f"t{i}",
            "name": f"Track {i}",
            "artists": [f"artist{i % 10}"],
            "genre": GENRES[i % 4],
            "year": 1960 + i % 60,
            "explicit": int(i % 2 == 0),
            "popularity": i % 100,
        }
        points.append(PointRecord(point_id(f"t{i}"), vectors, payload))
    return points


class StoreContract:
    """Mixin: subclasses define a `store` fixture returning a fresh, not yet created store."""

    @pytest.fixture
    def filled(self, store: VectorStore) -> tuple[VectorStore, list[PointRecord]]:
        store.create(LAYOUT, {"scaler": {"mean": [0.0]}})
        points = make_points()
        store.upsert(points[:50])
        store.upsert(points[50:])
        return store, points

    def test_quantization_round_trip(
        self, store: VectorStore, quantized_store: VectorStore
    ) -> None:
        """int8 is what the engine reports, and rescoring keeps a stored vector its own
        nearest neighbour (`quantized_store` searches through the index, not exactly)."""
        store.create(LAYOUT, {})
        assert store.quantization() == "none"
        quantized_store.create(LAYOUT, {})
        # qdrant-client's local mode has no quantization (it searches exactly) and says so.
        expected = "none" if quantized_store.engine == "memory" else "int8"
        assert quantized_store.quantization() == expected
        points = make_points()
        quantized_store.upsert(points)
        quantized_store.optimize()
        for p in [p for p in points if "lyrics" in p.vectors][:30:5]:
            hits = quantized_store.search("lyrics", p.vectors["lyrics"], limit=3)
            assert hits[0].id == p.id
            assert hits[0].score == pytest.approx(1.0, abs=1e-4)  # rescored: the exact cosine

    def test_scroll_resumes_at_a_point_id(self, filled) -> None:
        """`start` continues a scroll where a checkpoint left it: the rest, in the same order."""
        store, points = filled
        order = [p.id for batch in store.scroll(batch_size=17) for p in batch]
        assert sorted(order) == sorted(p.id for p in points)
        resumed = [p.id for batch in store.scroll(batch_size=17, start=order[50]) for p in batch]
        assert resumed == order[50:]

    def test_create_and_metadata_round_trip(self, store: VectorStore) -> None:
        assert not store.exists()
        store.create(LAYOUT, {"scaler": {"mean": [1.5, 2.0]}, "note": "x"})
        assert store.exists()
        assert store.layout() == LAYOUT
        assert store.read_metadata()["scaler"] == {"mean": [1.5, 2.0]}
        meta = store.read_metadata()
        del meta["note"]
        meta["scaler"] = {"mean": [3.0]}
        store.write_metadata(meta)
        again = store.read_metadata()
        assert "note" not in again
        assert again["scaler"] == {"mean": [3.0]}
        assert store.layout() == LAYOUT

    def test_count_retrieve_and_partial_vectors(self, filled) -> None:
        store, points = filled
        assert store.count() == N
        ids = [points[0].id, points[1].id, point_id("missing")]
        got = {r.id: r for r in store.retrieve(ids, with_vectors=True)}
        assert set(got) == {points[0].id, points[1].id}
        assert set(got[points[0].id].vectors) == {"audio"} - ({"audio"} if 0 % 7 == 0 else set())
        assert set(got[points[1].id].vectors) == {"lyrics", "audio", TERMS}
        stored = np.array(got[points[1].id].vectors["lyrics"])
        expected = unit(np.array(points[1].vectors["lyrics"]))
        np.testing.assert_allclose(stored, expected, atol=1e-5)  # cosine stores unit vectors
        assert got[points[1].id].payload["track_id"] == "t1"
        assert store.retrieve([points[2].id])[0].vectors == {}

    def test_upsert_is_idempotent_and_overwrites(self, filled) -> None:
        store, points = filled
        changed = PointRecord(points[5].id, points[5].vectors, {**points[5].payload, "name": "New"})
        store.upsert([changed, *points[:10]])
        assert store.count() == N
        assert store.retrieve([points[5].id])[0].payload["name"] == "Track 5"
        store.upsert([changed])
        assert store.retrieve([points[5].id])[0].payload["name"] == "New"

    def test_search_finds_itself_and_skips_points_without_the_vector(self, filled) -> None:
        store, points = filled
        target = points[4]
        hits = store.search("lyrics", target.vectors["lyrics"], limit=N)
        assert hits[0].id == target.id
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        without_lyrics = {p.id for p in points if "lyrics" not in p.vectors}
        assert not without_lyrics & {h.id for h in hits}
        assert len(hits) == N - len(without_lyrics)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    def test_search_pagination(self, filled) -> None:
        store, points = filled
        q = points[4].vectors["audio"]
        full = [h.id for h in store.search("audio", q, limit=20)]
        page = [h.id for h in store.search("audio", q, limit=10, offset=10)]
        assert page == full[10:20]

    def test_filters(self, filled) -> None:
        store, points = filled
        flt = TrackFilter(
            genres=["pop", "rock"],
            year_min=1970,
            year_max=1999,
            explicit=True,
            exclude_artists=["artist2"],
            exclude_ids=[points[4].id],
        )

        def ok(p: dict) -> bool:
            return (
                p["genre"] in ("pop", "rock")
                and 1970 <= p["year"] <= 1999
                and p["explicit"]
                and "artist2" not in p["artists"]
                and p["track_id"] != "t4"
            )

        expected = {p.id for p in points if ok(p.payload)}
        assert expected, "the fixture must leave some points matching"
        assert store.count(flt) == len(expected)
        hits = store.search("audio", points[4].vectors["audio"], limit=N, flt=flt)
        assert {h.id for h in hits} == {
            p.id for p in points if p.id in expected and "audio" in p.vectors
        }
        fused = store.fused_search(
            {"audio": points[4].vectors["audio"], "lyrics": points[4].vectors["lyrics"]},
            {"audio": 1.0, "lyrics": 1.0},
            limit=N,
            flt=flt,
        )
        assert fused and all(ok(h.payload) for h in fused)

    def test_include_ids_restricts_the_search(self, filled) -> None:
        store, points = filled
        allowed = [points[i].id for i in (1, 2, 4, 5, 8)]
        flt = TrackFilter(include_ids=allowed, exclude_ids=[points[2].id])
        hits = store.search("audio", points[9].vectors["audio"], limit=N, flt=flt)
        assert {h.id for h in hits} == set(allowed) - {points[2].id}
        assert store.count(flt) == 4

    def test_artists_filter_keeps_only_those_artists(self, filled) -> None:
        store, points = filled
        flt = TrackFilter(artists=["artist3", "artist7"], exclude_ids=[points[3].id])
        expected = {p.id for p in points if p.payload["artists"][0] in ("artist3", "artist7")} - {
            points[3].id
        }
        assert store.count(flt) == len(expected)
        fused = store.fused_search(
            {"audio": points[4].vectors["audio"], "lyrics": points[4].vectors["lyrics"]},
            {"audio": 1.0, "lyrics": 1.0},
            limit=N,
            flt=flt,
        )
        assert {h.id for h in fused} == {p.id for p in points if p.id in expected and p.vectors}

    @pytest.mark.parametrize("fusion", ["rrf", "dbsf"])
    def test_fused_search_ranks_the_point_matching_all_modalities_first(
        self, filled, fusion
    ) -> None:
        store, points = filled
        target = points[8]
        queries = {name: target.vectors[name] for name in DIMS}
        hits = store.fused_search(queries, {"lyrics": 1.0, "audio": 1.0}, limit=10, fusion=fusion)
        assert hits[0].id == target.id
        assert len(hits) == 10
        assert len({h.id for h in hits}) == 10

    def test_weighted_rrf_follows_the_weights(self, filled) -> None:
        store, points = filled
        lyrics_q, audio_q = points[1].vectors["lyrics"], points[2].vectors["audio"]
        queries = {"lyrics": lyrics_q, "audio": audio_q}
        # A small k makes rank 1 decisive, so the weights alone decide who wins.
        lyrics_first = store.fused_search(queries, {"lyrics": 5.0, "audio": 0.2}, 5, rrf_k=2)
        audio_first = store.fused_search(queries, {"lyrics": 0.2, "audio": 5.0}, 5, rrf_k=2)
        assert lyrics_first[0].id == points[1].id
        assert audio_first[0].id == points[2].id

    def test_fused_pagination_and_vectors(self, filled) -> None:
        store, points = filled
        queries = {name: points[8].vectors[name] for name in DIMS}
        w = {"lyrics": 1.0, "audio": 1.0}
        full = store.fused_search(queries, w, limit=20, with_vectors=True)
        page = store.fused_search(queries, w, limit=10, offset=10)
        assert [h.id for h in page] == [h.id for h in full[10:20]]
        assert all(h.vectors for h in full)

    def test_set_payload_delete_scroll(self, filled) -> None:
        store, points = filled
        store.set_payload([points[3].id], {"popularity": 99, "album_url": "http://x/y.jpg"})
        payload = store.retrieve([points[3].id])[0].payload
        assert payload["popularity"] == 99
        assert payload["album_url"] == "http://x/y.jpg"
        assert payload["name"] == "Track 3"
        store.delete([points[0].id, points[1].id])
        assert store.count() == N - 2
        seen = [r.id for batch in store.scroll(batch_size=17) for r in batch]
        assert len(seen) == len(set(seen)) == N - 2
        assert points[0].id not in seen

    def test_sparse_vectors_round_trip(self, filled) -> None:
        store, points = filled
        got = store.retrieve([points[11].id, points[3].id], with_vectors=True)
        by_id = {r.id: r for r in got}
        sparse = by_id[points[11].id].vectors[TERMS]
        assert isinstance(sparse, SparseVector)
        assert sparse.indices == points[11].vectors[TERMS].indices
        assert sparse.values == pytest.approx(points[11].vectors[TERMS].values)
        assert TERMS not in by_id[points[3].id].vectors  # no lyrics, no terms

    def test_sparse_search_applies_idf(self, filled) -> None:
        store, points = filled
        query = SparseVector.from_pairs([(COMMON, 1.0), (RARE, 1.0)])
        hits = store.search(TERMS, query, limit=5)
        # Without IDF track 10 (common term x2) would win; the rare term outweighs it.
        assert hits[0].id == points[11].id
        assert hits[1].id == points[10].id
        only_common = store.search(TERMS, SparseVector.from_pairs([(COMMON, 1.0)]), limit=3)
        assert only_common[0].id == points[10].id

    def test_fused_search_with_a_sparse_prefetch(self, filled) -> None:
        store, points = filled
        queries = {
            TERMS: SparseVector.from_pairs([(RARE, 1.0)]),
            "lyrics": points[11].vectors["lyrics"],
        }
        hits = store.fused_search(queries, {TERMS: 1.0, "lyrics": 1.0}, limit=5, with_vectors=True)
        assert hits[0].id == points[11].id
        assert isinstance(hits[0].vectors[TERMS], SparseVector)

    def test_score_points_is_the_exact_cosine_of_the_points_asked(self, filled) -> None:
        """Scores only for the ids asked that hold the vector (every 3rd point has no lyrics),
        equal to the cosine computed from the vectors as written, missing ids left out."""
        store, points = filled
        query = np.random.default_rng(3).normal(size=DIMS["lyrics"])
        asked = [p.id for p in points[:40]] + [point_id("missing")]
        got = store.score_points("lyrics", query.tolist(), asked)
        expected = {
            p.id: float(unit(np.array(p.vectors["lyrics"])) @ unit(query))
            for p in points[:40]
            if "lyrics" in p.vectors
        }
        assert set(got) == set(expected)
        for pid, value in expected.items():
            assert got[pid] == pytest.approx(value, abs=1e-5)
        assert store.score_points("lyrics", query.tolist(), []) == {}

    def test_reads_return_only_the_named_vectors(self, filled) -> None:
        store, points = filled
        [record] = store.retrieve([points[1].id], with_vectors=[TERMS])
        assert set(record.vectors) == {TERMS}
        hits = store.fused_search(
            {"lyrics": points[1].vectors["lyrics"]}, {"lyrics": 1.0}, limit=3, with_vectors=[TERMS]
        )
        assert hits[0].id == points[1].id
        assert set(hits[0].vectors) == {TERMS}

    def test_drop(self, filled) -> None:
        store, _ = filled
        store.drop()
        assert not store.exists()
        assert store.read_metadata() == {}
