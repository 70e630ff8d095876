"""The request path on a real engine: a source registered in one entry appears in the pool,
the ranker's features and the explanations; a hot reload in the middle of a request cannot
make it serve one artefact under another's version."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from operator import attrgetter

import pytest

from core.artefacts import ArtefactError, Fixed
from core.collab import artefact as lightfm_artefact
from core.collab.holder import ModelHolder
from core.collab.training import train
from core.recommend.factory import feature_layout
from core.recommend.rankers.artefact import load, ranker_holder
from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal
from core.recommend.sources.registry import REGISTRY, SourceSpec
from core.recommend.training import split_interactions
from schemas.settings.recommend import RecommendSettings
from tests.core.recommend.rankers.test_learned import PARAMS, TRACKS, points_store, train_all
from tests.core.recommend.sources.test_contract import USER, interactions
from tests.core.store.contract import make_points

LABELS = split_interactions(interactions(), PARAMS)[1]  # what train_ranker will hold out


@dataclass
class ToySource:
    """A test source: each user's held-out tracks first (score 1), then the tracks nobody
    holds (score 0) — informative enough that the ranker learns to use it. `during` runs
    inside `propose`, in the middle of a request."""

    name: str = "toy"
    during: list = field(default_factory=list)
    seen: list = field(default_factory=list)

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        self.seen.append(query.snapshot)
        for action in self.during:
            action()
        held = sorted(LABELS.get(query.user_id or "", ()))
        others = [f"t{i}" for i in range(len(make_points())) if f"t{i}" not in held]
        picks = [(t, 1.0) for t in held] + [(t, 0.0) for t in others]
        return [Proposal(t, s) for t, s in picks if t not in query.excluded][:n]


TOY = ToySource()
WITH_TOY = (*REGISTRY, SourceSpec("toy", lambda d: TOY, attrgetter("pool_artist"), group="toy"))
SETTINGS = RecommendSettings(sources=[*(s.name for s in REGISTRY), "toy"])


@pytest.fixture(scope="module")
def store(module_dir):
    s = points_store(module_dir, "recommender")
    yield s
    s.close()


@pytest.fixture(scope="module")
def trained(store):
    return train_all(store, SETTINGS, WITH_TOY)


def test_a_registered_source_reaches_the_pool_the_features_and_the_explanation(
    tmp_path, trained
) -> None:
    base, _, artefact = trained
    assert list(artefact.features[:1]) == ["content_score"]
    assert {"toy_score", "toy_rank"} <= set(artefact.features)
    rec = replace(base, ranker=Fixed(artefact))
    assert "toy" in rec.layout.group_order
    q = rec.user_query(USER)
    pool = rec.scored_pool(q, 10, features=True)
    toy = [s for s in pool if "toy" in s.candidate.sources]
    assert toy, "the toy source's proposals are in the pool"
    col = rec.layout.col["toy_score"]
    assert all(s.features is not None and s.features[col] in (0.0, 1.0) for s in toy)
    result = rec.recommend_for_user(USER, limit=10)
    assert result.personalization.ranker == "learned"
    assert any("toy" in i.sources for i in result.items)
    explained = [i.explanation for i in result.items if i.explanation]
    assert any("toy" in e for e in explained), "the toy signal is explained as its own group"
    for item in result.items:
        assert item.explanation is not None
        assert sum(item.explanation.values()) == pytest.approx(item.score, abs=1e-6)
    # A ranker trained with the toy source is refused by a service without it.
    with pytest.raises(ArtefactError, match=r"trained on other features.*toy_rank"):
        load(artefact.save(tmp_path), feature_layout(RecommendSettings()).names)


def test_a_reload_mid_request_cannot_mix_versions(tmp_path, store, trained) -> None:
    base, model, artefact = trained
    other = train(interactions(), TRACKS, epochs=5, num_threads=1, seed=99)
    lightfm_artefact.save(model, tmp_path)
    artefact.save(tmp_path)
    collab = ModelHolder(tmp_path, reload_seconds=0)  # every read checks the pointer
    ranker = ranker_holder(tmp_path, reload_seconds=0, features=base.layout.names)
    first = (collab.version, ranker.version)
    assert None not in first
    rec = replace(base, collab=collab, ranker=ranker)
    expected = replace(base, collab=Fixed(model, first[0]), ranker=Fixed(artefact, first[1]))
    want = expected.recommend_for_user(USER, limit=10)

    def publish_newer() -> None:  # what `musicrec train` does while a request runs
        lightfm_artefact.save(other, tmp_path)
        artefact.save(tmp_path)

    TOY.during[:] = [publish_newer]
    TOY.seen.clear()
    try:
        got = rec.recommend_for_user(USER, limit=10)
    finally:
        TOY.during.clear()
    assert (got.personalization.model_version, got.personalization.ranker_version) == first
    # Same scores; exact ties (equal trees' leaves) may come back in another engine order,
    # so only what ranks above the last score must be the same tracks.
    assert [i.score for i in got.items] == [i.score for i in want.items]
    cut = min(i.score for i in want.items)
    assert {(i.track.id, i.score) for i in got.items if i.score > cut} == {
        (i.track.id, i.score) for i in want.items if i.score > cut
    }
    assert TOY.seen[-1].model_version == first[0]
    # The newer artefacts are served from the next request on.
    collab.current(), ranker.current()
    assert (collab.version, ranker.version) != first
    after = rec.recommend_for_user(USER, limit=10)
    assert after.personalization.model_version == collab.version
    assert after.personalization.ranker_version == ranker.version


def test_scores_two_parts_need_are_computed_once_per_request(trained, monkeypatch) -> None:
    """Co-occurrence and co-listened artists feed a source AND the features: one computation
    each per request (no cache that could hide a second one, nothing kept between requests)."""
    base, _, artefact = trained
    rec = replace(base, ranker=Fixed(artefact))
    index = artefact.index
    assert index.artists is not None
    calls: dict[str, int] = {"cooccurrence": 0, "colistened": 0}

    def counting(name, real):
        def wrapper(*args):
            calls[name] += 1
            return real(*args)

        return wrapper

    monkeypatch.setattr(
        index, "history_cooccurrence", counting("cooccurrence", index.history_cooccurrence)
    )
    monkeypatch.setattr(
        index.artists, "colistened", counting("colistened", index.artists.colistened)
    )
    for expected in (1, 2):
        result = rec.recommend_for_user(USER, limit=10)
        assert result.items
        assert calls == {"cooccurrence": expected, "colistened": expected}
