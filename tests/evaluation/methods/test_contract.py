"""The Method contract, run against EVERY evaluated method (like implicit's
recommender_base_test mixin): the baselines, TF-IDF, Word2Vec, LightFM and the product's
recommender through its adapter, all on one real slice of the demo sample indexed by the
product's Indexer into Qdrant Edge, with a LightFM model trained on the split's training side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from core.collab.artefact import save
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store.edge import EdgeStore
from evaluation.methods.base import Method, Query, TrainData
from evaluation.methods.baselines import (
    CoOccurrenceMethod,
    PopularityMethod,
    RandomMethod,
    SameArtistMethod,
    UnseenFirstMethod,
)
from evaluation.methods.cf import baselines
from evaluation.methods.lightfm import LightFMMethod
from evaluation.methods.product import ProductMethod, ProductRecommender, product_recommender
from evaluation.methods.text import TfidfMethod, Word2VecMethod
from evaluation.splits import continuation_split
from evaluation.tuning import grid_points
from indexer.catalog import read_catalog
from indexer.pipeline import Indexer
from schemas.layout import AUDIO, COVER, LYRICS, LYRICS_TERMS
from tests.conftest import DEMO_TRACKS, demo_rows, write_catalog

K = 10
N_USERS = 12


@dataclass
class World:
    """One split of a real slice, shared by every ranker's contract tests."""

    data: TrainData
    queries: list[Query]
    recommender: ProductRecommender
    by_name: dict[str, Method] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(module_dir: Path) -> World:
    tmp = module_dir
    interactions = pd.read_csv(DEMO_TRACKS.parent / "interactions.csv", dtype=str)
    users = interactions.groupby("user_id").size().sort_values(ascending=False).index[:N_USERS]
    rows = interactions[interactions["user_id"].isin(users)][["user_id", "track_id"]]
    header, all_rows = demo_rows()
    wanted = set(rows["track_id"])
    extra = [r["id"] for r in all_rows if r["id"] not in wanted][:40]
    catalog_rows = [r for r in all_rows if r["id"] in wanted | set(extra)]
    csv_path = write_catalog(tmp / "catalog.csv", header, catalog_rows)
    tracks = sorted(
        (t for batch in read_catalog(csv_path, schema="kaggle") for t in batch),
        key=lambda t: t.id,
    )
    ids = {t.id for t in tracks}
    rows = rows[rows["track_id"].isin(ids)].reset_index(drop=True)
    train_rows, hidden = continuation_split(rows, seed=3)
    data = TrainData(tracks, train_rows)
    known = train_rows.groupby("user_id")["track_id"].agg(set).to_dict()
    queries = [Query(u, tuple(sorted(known[u])), frozenset(known[u]), u) for u in sorted(hidden)]
    with_lyrics = [t.id for t in tracks if t.lyrics]
    queries.append(Query("a song", (with_lyrics[0],), frozenset({with_lyrics[0]})))

    store = EdgeStore(tmp / "qdrant", "tracks", exact_search_below=10**9)
    terms = LyricsTermsEncoder()
    Indexer(store, [terms], batch_size=64, progress=False).run(csv_path, schema="kaggle")
    lightfm = LightFMMethod(seed=3).fit(data)
    assert lightfm.model is not None
    save(lightfm.model, tmp / "models")
    recommender = product_recommender(store, model_dir=tmp / "models")
    yield World(data, queries, recommender)
    store.close()


TERMS_ONLY = {LYRICS: 0.0, LYRICS_TERMS: 1.0, COVER: 0.0, AUDIO: 0.0}
RANKERS: dict[str, Callable[[World], Method]] = {
    "random": lambda w: RandomMethod(seed=5),
    "popularity": lambda w: PopularityMethod(),
    "co-occurrence": lambda w: CoOccurrenceMethod(),
    "same artist": lambda w: SameArtistMethod(),
    "unseen first": lambda w: UnseenFirstMethod(),
    "tf-idf": lambda w: TfidfMethod(),
    "word2vec": lambda w: Word2VecMethod(seed=5, epochs=3),
    "lightfm": lambda w: LightFMMethod(seed=5),
    "product, hybrid": lambda w: ProductMethod(
        "hybrid", w.recommender, collab_weight=0.8, personal=True
    ),
    "product, audio only": lambda w: ProductMethod(
        "audio", w.recommender, weights={**TERMS_ONLY, LYRICS_TERMS: 0.0, AUDIO: 1.0}
    ),
    "product, lyrics terms": lambda w: ProductMethod("terms", w.recommender, weights=TERMS_ONLY),
    # The strong collaborative baselines, each at the first point of its tuning grid.
    **{b.name: lambda w, b=b: b.method(grid_points(b.grid)[0]) for b in baselines(seed=5)},
}


@pytest.fixture(params=sorted(RANKERS))
def make(request: pytest.FixtureRequest, world: World) -> Callable[[], Method]:
    """A fresh, fitted ranker of one kind per call."""
    if request.param in {"tf-idf", "word2vec"}:
        pytest.importorskip("sklearn" if request.param == "tf-idf" else "gensim")
    return lambda: RANKERS[request.param](world).fit(world.data)


@pytest.fixture
def ranker(make: Callable[[], Method]) -> Method:
    return make()


def test_is_a_ranker(ranker: Method) -> None:
    assert isinstance(ranker, Method)
    assert isinstance(ranker.name, str) and ranker.name


def test_at_most_k_distinct_catalog_ids(ranker: Method, world: World) -> None:
    catalog = set(world.data.ids)
    for k in (1, 3, K):
        for query in world.queries:
            ranked = ranker.rank(query, k)
            assert len(ranked) <= k
            assert len(set(ranked)) == len(ranked), ranked
            assert set(ranked) <= catalog


def test_answers_a_query_with_history(ranker: Method, world: World) -> None:
    answers = [ranker.rank(q, K) for q in world.queries]
    assert any(len(a) == K for a in answers), answers


def test_never_returns_seeds_or_excluded_tracks(ranker: Method, world: World) -> None:
    for query in world.queries:
        assert not set(ranker.rank(query, K)) & query.banned
    # Exclusions beyond the seeds hold too: ban what came back first, ask again.
    query = world.queries[0]
    first = ranker.rank(query, K)
    if first:
        banned = Query(query.id, query.seeds, query.exclude | set(first[:3]), query.user_id)
        assert not set(ranker.rank(banned, K)) & set(first[:3])


def test_deterministic_for_a_seed(make: Callable[[], Method], world: World) -> None:
    first, second = make(), make()
    assert [first.rank(q, K) for q in world.queries] == [second.rank(q, K) for q in world.queries]


def test_refit_restarts_the_same_answers(ranker: Method, world: World) -> None:
    before = [ranker.rank(q, K) for q in world.queries]
    ranker.fit(world.data)
    assert [ranker.rank(q, K) for q in world.queries] == before


def test_a_user_with_empty_history(ranker: Method) -> None:
    for query in (Query("nobody"), Query("new user", user_id="never-seen-user")):
        ranked = ranker.rank(query, K)
        assert isinstance(ranked, list) and len(ranked) <= K


def test_k_must_be_positive(ranker: Method, world: World) -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        ranker.rank(world.queries[0], 0)


def test_product_ranker_returns_the_products_own_list(world: World) -> None:
    """The adapter drops nothing in the protocols: its list is `recommend_for_user`'s."""
    query = world.queries[0]
    ranker = ProductMethod("hybrid", world.recommender, collab_weight=0.8, personal=True)
    response = world.recommender.recommend_for_user(query.user_id or "", limit=K, collab_weight=0.8)
    assert set(ranker.rank(query, K)) == {item.track.id for item in response.items}
