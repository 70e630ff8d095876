"""One contract for every ranker of the serving pipeline (`core.recommend.rankers`), run
against each: the linear blend at three weights and the learned ranker with a real LightGBM
booster, on the same scored candidates."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from core.recommend.candidates import Candidate, SourceHit
from core.recommend.features import FEATURE_NAMES
from core.recommend.rankers import LearnedRanker, LinearBlend, ScoredCandidate
from core.recommend.rankers.base import Ranker
from tests.core.store.contract import make_points

RNG_SEED = 3


def candidates() -> list[ScoredCandidate]:
    """The store contract's points as a pool: cosines, LightFM scores and feature rows drawn
    at random (NaN where a value is missing), two sources each."""
    rng = np.random.default_rng(RNG_SEED)
    out = []
    for i, point in enumerate(make_points()):
        features = rng.normal(size=len(FEATURE_NAMES)).astype(np.float32)
        features[rng.random(len(FEATURE_NAMES)) < 0.2] = np.nan
        sources = {"content": SourceHit(float(rng.random()), i), "artist": SourceHit(1.0, i)}
        out.append(
            ScoredCandidate(
                Candidate(point.payload["track_id"], point, sources),
                {"audio": float(rng.uniform(-1, 1)), "lyrics": None},
                collaborative=float(rng.normal()),
                features=features,
            )
        )
    return out


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    """LambdaRank on random rows whose relevance follows two features, so the trees split."""
    rng = np.random.default_rng(RNG_SEED)
    x = rng.normal(size=(600, len(FEATURE_NAMES)))
    y = ((x[:, 0] + 0.5 * x[:, 3]) > 0.8).astype(int)
    data = lgb.Dataset(x, y, group=[30] * 20, feature_name=list(FEATURE_NAMES))
    params = {"objective": "lambdarank", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5}
    return lgb.train(params, data, 20)


@pytest.fixture(params=["blend 0", "blend 0.8", "blend 1", "learned"])
def ranker(request, booster) -> Ranker:
    if request.param == "learned":
        return LearnedRanker(booster, explain_top=5)
    return LinearBlend(float(request.param.split()[1]))


def test_every_candidate_once_best_first(ranker: Ranker) -> None:
    pool = candidates()
    ranked = ranker.rank(pool, {"audio": 1.0})
    assert sorted(r.track.id for r in ranked) == sorted(c.candidate.track_id for c in pool)
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(np.isfinite(scores))


def test_a_limit_is_the_head_of_the_full_ranking(ranker: Ranker) -> None:
    pool = candidates()
    full = ranker.rank(pool, {"audio": 1.0})
    head = ranker.rank(pool, {"audio": 1.0}, 7)
    assert [(r.track.id, r.score) for r in head] == [(r.track.id, r.score) for r in full[:7]]
    assert ranker.rank(pool, {"audio": 1.0}, len(pool) + 5) == full


def test_results_keep_what_placed_them(ranker: Ranker) -> None:
    pool = candidates()
    by_id = {c.candidate.track_id: c for c in pool}
    for r in ranker.rank(pool, {"audio": 1.0}, 10):
        source = by_id[r.track.id]
        assert r.similarities == source.similarities
        assert r.sources == list(source.candidate.sources)
        assert r.track.id == source.candidate.record.payload["track_id"]  # type: ignore[union-attr]


def test_empty_in_empty_out_and_deterministic(ranker: Ranker) -> None:
    assert ranker.rank([], {"audio": 1.0}) == []
    pool = candidates()
    assert ranker.rank(pool, {"audio": 1.0}) == ranker.rank(pool, {"audio": 1.0})


def test_the_learned_ranker_explains_only_the_best(booster) -> None:
    ranked = LearnedRanker(booster, explain_top=5).rank(candidates(), {"audio": 1.0}, 10)
    assert [r.explanation is not None for r in ranked] == [True] * 5 + [False] * 5
    for r in ranked[:5]:
        assert sum(r.explanation.values()) == pytest.approx(r.score, abs=1e-6)  # type: ignore[union-attr]
