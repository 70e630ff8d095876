"""One contract for every candidate source, run on both store engines (Qdrant Edge and
qdrant-client :memory:), like tests/core/store/contract.py for the stores."""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from qdrant_client import QdrantClient

from core.collab.training import train
from core.recommend.candidates import gather, hydrate
from core.recommend.cf_models import CFScores, fit_cf
from core.recommend.factory import build_recommender
from core.recommend.query import passes
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.seeds import complete_weights, fetch_seeds, seed_query
from core.recommend.signals import sparse_names
from core.recommend.snapshot import Snapshot
from core.recommend.sources import CandidateSource
from core.recommend.sources.artist import most_shared
from core.recommend.sources.registry import REGISTRY
from core.recommend.user_tracks import UserTrackMatrix
from core.store import TrackFilter, VectorStore
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from schemas.api import Filters
from schemas.settings.cf import CFSettings
from schemas.settings.recommend import RecommendSettings
from schemas.tracks import Track
from tests.core.store.contract import LAYOUT, N, make_points

SOURCES = tuple(spec.name for spec in REGISTRY)  # every registered source
CF = ("ease", "ials", "rp3beta", "userknn")
# Small models for 12 users; EASE bounded below the 30 held tracks so its bound is exercised.
CF_SETTINGS = CFSettings(
    ease_lambda=5.0,
    ease_max_items=10,
    ease_topk=8,
    ials_factors=8,
    ials_regularization=0.1,
    ials_iterations=10,
    rp3_topk=10,
    userknn_neighbours=4,
    cf_threads=1,
)
USER = "u0"
ARTISTS = {p.payload["track_id"]: p.payload["artists"] for p in make_points()}


def interactions() -> pd.DataFrame:
    """12 users, each holding the tracks of one cluster (i % 4) in a window: co-occurrence,
    LightFM and popularity all have something real to say."""
    rows = []
    for u in range(12):
        cluster = u % 4
        members = [i for i in range(N) if i % 4 == cluster]
        start = (u // 4) * 5
        rows += [(f"u{u}", f"t{i}") for i in members[start : start + 12]]
    return pd.DataFrame(rows, columns=["user_id", "track_id"])


@functools.cache
def fitted() -> tuple[Snapshot, UserTrackMatrix]:
    """A LightFM model and interaction matrix over `interactions()`, as one request's snapshot."""
    frame = interactions()
    tracks = [Track.from_payload(p.payload) for p in make_points()]
    model = train(frame, tracks, epochs=5, num_threads=1, seed=1)
    index = UserTrackMatrix.from_pairs(frame, ARTISTS)
    artefact = RankerArtefact(index, cf=fit_cf(index, CF_SETTINGS))
    return Snapshot(model, "m1", artefact, "r1"), index


@pytest.fixture(scope="module")
def artefacts() -> tuple[Snapshot, UserTrackMatrix]:
    return fitted()


@pytest.fixture(params=["edge", "memory"], scope="module")
def store(request, module_dir):
    if request.param == "edge":
        s: VectorStore = EdgeStore(module_dir / "q", "sources")
    else:
        s = ClientStore(QdrantClient(location=":memory:"), "sources", engine="memory")
    s.create(LAYOUT, {})
    s.upsert(make_points())
    yield s
    s.close()


def built(store) -> dict[str, CandidateSource]:
    """Every registered source, built by the factory as the service builds it."""
    recommender = build_recommender(RecommendSettings(), store)
    return {a.spec.name: a.source for a in recommender.sources}


@pytest.fixture(params=SOURCES)
def source(request, store) -> CandidateSource:
    return built(store)[request.param]


def query(
    store,
    user=USER,
    filters: Filters | None = None,
    positive=("t0", "t4", "t8", "t13"),
    snapshot: Snapshot | None = None,
):
    """A seeded query over `snapshot` (default: the module's model and matrix)."""
    filters = filters or Filters()
    seeds = fetch_seeds(store, list(positive))
    weights = complete_weights({}, {})
    snap = fitted()[0] if snapshot is None else snapshot
    return seed_query(list(positive), [], seeds, weights, filters, list(positive), user, snap)


def test_proposes_distinct_tracks_best_first_never_the_excluded(source, store) -> None:
    q = query(store)
    proposals = source.propose(q, 15)
    assert proposals, f"{source.name} proposed nothing on a query it can answer"
    ids = [p.track_id for p in proposals]
    assert len(ids) == len(set(ids)) <= 15
    assert not set(ids) & set(q.exclude)
    scores = [p.score for p in proposals]
    if source.name != "content":  # fused RRF scores are ordered by the engine itself
        assert scores == sorted(scores, reverse=True)
    known = {p.payload["track_id"] for p in make_points()}
    assert set(ids) <= known


def test_a_record_given_is_the_tracks_own_point(source, store) -> None:
    """With its payload and at most the query's sparse vectors: the pool's dense cosines are
    the engine's (`signals.Similarity`), no dense vector travels through Python."""
    q = query(store)
    for p in source.propose(q, 10):
        if p.record is not None:
            assert p.record.payload["track_id"] == p.track_id
            assert set(p.record.vectors) <= set(sparse_names(q.queries))


def test_zero_asked_zero_given_and_deterministic(source, store) -> None:
    q = query(store)
    assert source.propose(q, 0) == []
    first, again = source.propose(q, 8), source.propose(q, 8)
    assert len(first) == len(again)
    # Exact score ties may come back in another order (or be cut at the limit differently)
    # from an engine; nothing above the last score may move.
    cut = min(p.score for p in first)
    assert sorted((p.score, p.track_id) for p in first if p.score > cut) == sorted(
        (p.score, p.track_id) for p in again if p.score > cut
    )


def test_the_pool_honours_the_filters_like_the_engine(source, store) -> None:
    filters = Filters(genres=["pop", "rock"], year_min=1965, exclude_artists=["artist5"])
    q = query(store, filters=filters)
    pool = hydrate(store, gather([(source, 40)], q), q)
    engine = store.count(
        TrackFilter(genres=["pop", "rock"], year_min=1965, exclude_artists=["artist5"])
    )
    assert engine > 0
    for candidate in pool:
        assert candidate.record is not None
        assert passes(filters, candidate.record.payload)


def test_nothing_to_say_is_an_empty_list(source, store) -> None:
    """A filter nothing passes, an unknown user, no interaction matrix, or seeds whose
    artists the filter removes."""
    q = query(store, user="nobody")
    bare = query(store, user="nobody", snapshot=Snapshot())  # no model, no matrix
    silent = {
        "content": lambda: source.propose(query(store, filters=Filters(genres=["polka"])), 5),
        "collaborative": lambda: (
            source.propose(q, 5) + source.propose(query(store, snapshot=Snapshot()), 5)
        ),
        "cooccurrence": lambda: source.propose(bare, 5),
        "popularity": lambda: source.propose(bare, 5),
        "colistened": lambda: source.propose(bare, 5),
        # No models; or a history EASE's bound leaves out (t3 is not among the most held).
        **dict.fromkeys(CF, lambda: source.propose(bare, 5)),
        "artist": lambda: source.propose(
            query(store, filters=Filters(exclude_artists=[f"artist{i}" for i in range(10)])), 5
        ),
    }[source.name]
    assert silent() == []


def test_cooccurrence_follows_the_shared_users(store, artefacts) -> None:
    """Tracks held with the seeds by other users score by how many such holdings there are,
    divided by the square root of how many users hold the track (normalised: the most-held
    tracks are not proposed to everyone)."""
    _, index = artefacts
    q = query(store, user="someone-new", positive=("t4",))
    proposals = built(store)["cooccurrence"].propose(q, 50)
    holders = [set(index.user_tracks(u)) for u in index.user_ids if "t4" in index.user_tracks(u)]
    assert holders
    expected = {t for h in holders for t in h} - {"t4"}
    assert {p.track_id for p in proposals} == expected
    everyone = [set(index.user_tracks(u)) for u in index.user_ids]
    for p in proposals:
        shared = sum(p.track_id in h for h in holders)
        held = sum(p.track_id in h for h in everyone)
        assert p.score == pytest.approx(shared / np.sqrt(held), rel=1e-5)


def test_artist_source_returns_only_the_seeds_artists(store) -> None:
    q = query(store)
    seed_artists = {a for t in q.positive for a in q.seeds[t].payload["artists"]}
    proposals = built(store)["artist"].propose(q, 30)
    assert proposals
    for p in proposals:
        assert p.record is not None and set(p.record.payload["artists"]) & seed_artists
    assert all(np.diff([p.score for p in proposals]) <= 0)


class ReversedEngine(EdgeStore):
    """The engine returning hits and points in another order, as it does from one process to
    the next (exact RRF ties: ranks swapped between two modalities give equal sums)."""

    def fused_search(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().fused_search(*args, **kwargs)[::-1]

    def retrieve(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return super().retrieve(*args, **kwargs)[::-1]


def test_the_content_pool_does_not_take_the_engines_order(store, tmp_path) -> None:
    """Best score first, ties by track id, whatever order the engine returned them in."""
    reversed_store = ReversedEngine(tmp_path / "q", "reversed")
    reversed_store.create(LAYOUT, {})
    reversed_store.upsert(make_points())
    proposals = built(reversed_store)["content"].propose(query(reversed_store), 30)
    seeds = ["t8", "t0", "t13", "t4"]  # the seeds' order is the order their vectors are summed
    assert list(fetch_seeds(reversed_store, seeds)) == seeds
    reversed_store.close()
    assert proposals == sorted(proposals, key=lambda p: (-p.score, p.track_id))
    assert [p.track_id for p in proposals] == [
        p.track_id for p in built(store)["content"].propose(query(store), 30)
    ]


def test_the_artists_asked_for_do_not_depend_on_insertion_order() -> None:
    """Ties at the cut are settled by name: the seeds' artists are deduplicated through sets,
    whose order changes with the process's hash seed (PYTHONHASHSEED)."""
    counts = {"b": 1, "a": 1, "d": 2, "c": 1}
    forward = Counter(counts)
    backward = Counter(dict(reversed(counts.items())))
    assert most_shared(forward, 3) == most_shared(backward, 3) == ["d", "a", "b"]
    assert most_shared(forward, 10) == ["d", "a", "b", "c"]


def test_co_listened_artists_follow_the_shared_listeners(store, artefacts) -> None:
    """Other artists' most held tracks, scored by the cosine between each artist's listeners
    and the history's (recomputed here from user sets), best artist first, 3 per artist."""
    _, index = artefacts
    q = query(store, user="someone-new", positive=("t4",))
    proposals = built(store)["colistened"].propose(q, 40)
    own = set(q.seeds["t4"].payload["artists"])
    listeners: dict[str, set[str]] = {}
    for u in index.user_ids:
        for t in index.user_tracks(u):
            for a in ARTISTS[t]:
                listeners.setdefault(a, set()).add(u)
    overlap = {u: sum(u in listeners[a] for a in own) for u in index.user_ids}
    norm = sum(v * v for v in overlap.values())
    expected = {
        b: sum(overlap[u] for u in users) / np.sqrt(len(users) * norm)
        for b, users in listeners.items()
        if b not in own
    }
    assert proposals, "co-listened artists must be proposed"
    by_artist: dict[str, int] = {}
    for p in proposals:
        assert not set(ARTISTS[p.track_id]) & own, "the seeds' own artists are not proposed"
        assert p.record is None  # fetched with the pool, not by the source
        assert p.score == pytest.approx(max(expected[a] for a in ARTISTS[p.track_id]), rel=1e-5)
        assert p.score <= 1 + 1e-6
        for a in ARTISTS[p.track_id]:
            by_artist[a] = by_artist.get(a, 0) + 1
    assert proposals[0].score == pytest.approx(max(expected.values()), rel=1e-5)
    assert max(by_artist.values()) <= 3, "per_artist caps each co-listened artist"
    # An artist no listener of the seeds' artists plays is not co-listened.
    assert all(expected[a] > 0 for p in proposals for a in ARTISTS[p.track_id])


@pytest.mark.parametrize("name", CF)
def test_cf_sources_propose_the_models_best_for_the_history(store, artefacts, name) -> None:
    """A new listener holding the two most-held tracks (EASE's bound covers them): the
    proposals are the model's own scores of that history (recomputed here from the model),
    best first, the history out."""
    snapshot, index = artefacts
    cf = snapshot.artefact.cf
    pair = tuple(index.track_ids[c] for c in index.most_held(2))
    q = query(store, user="someone-new", positive=pair)
    proposals = built(store)[name].propose(q, 50)
    assert proposals, f"{name} proposed nothing for a history it knows"
    fitted = cf.fitted[name]
    columns = fitted.columns if fitted.columns is not None else np.arange(len(index))
    held = [i for i, c in enumerate(columns) if index.track_ids[c] in pair]
    h = sp.csr_matrix((np.ones(len(held)), ([0] * len(held), held)), shape=(1, len(columns)))
    truth = dict(zip((index.track_ids[c] for c in columns), fitted.model.score(h)[0], strict=True))
    for p in proposals:
        assert p.track_id not in pair
        assert p.score == pytest.approx(truth[p.track_id], rel=1e-5) and p.score > 0
    positive = sorted(v for t, v in truth.items() if v > 0 and t not in pair)
    assert [p.score for p in proposals] == pytest.approx(positive[::-1][: len(proposals)])


def test_ease_is_bounded_to_the_most_held_tracks(artefacts) -> None:
    """Over `ease_max_items` the exact EASE covers the most-held tracks only; the others get
    no EASE score (missing), while the unbounded models score every track."""
    snapshot, index = artefacts
    cf = snapshot.artefact.cf
    columns = cf.fitted["ease"].columns
    assert columns is not None and len(columns) == CF_SETTINGS.ease_max_items < len(index)
    assert min(index.counts[columns]) >= max(np.delete(index.counts, columns))
    history = [index.track_ids[c] for c in index.most_held(2)]
    ease = cf.scores("ease", history)
    assert np.isnan(np.delete(ease, columns)).all() and not np.isnan(ease[columns]).any()
    assert not np.isnan(cf.scores("rp3beta", history)).any()
    outside = [index.track_ids[c] for c in np.delete(np.arange(len(index)), columns)[:2]]
    assert np.isnan(cf.scores("ease", outside)).all(), "a history EASE does not cover: no say"


def test_cf_models_round_trip_through_their_arrays(artefacts) -> None:
    snapshot, index = artefacts
    cf = snapshot.artefact.cf
    again = CFScores.from_arrays(index, cf.names, cf.to_arrays())
    for name in CF:
        np.testing.assert_allclose(
            again.scores(name, ["t0", "t4"]), cf.scores(name, ["t0", "t4"]), rtol=1e-6
        )
