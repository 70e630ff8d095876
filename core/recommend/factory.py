"""Settings → the recommender: the ONE place a `Recommender` is built (the API's lifespan,
`musicrec train`, the evaluation and the benchmarks all come here, so they measure what
serves; tests/test_architecture.py finds any other `Recommender(` call)."""

from __future__ import annotations

from collections.abc import Sequence

from core.artefacts import Holder
from core.collab.model import CollaborativeModel
from core.interactions.store import InteractionStore
from core.recommend.features import FeatureLayout
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.recommender import ActiveSource, Recommender
from core.recommend.sources import ContentSource
from core.recommend.sources.registry import REGISTRY, SourceDeps, SourceSpec, enabled
from core.store import VectorStore
from schemas.settings.recommend import RecommendSettings


def feature_layout(
    settings: RecommendSettings, registry: Sequence[SourceSpec] = REGISTRY
) -> FeatureLayout:
    """The ranker's feature columns for the sources the settings switch on (what a ranker
    artefact must have been trained on to serve)."""
    return FeatureLayout.of(enabled(settings, registry))


def build_recommender(
    settings: RecommendSettings,
    store: VectorStore,
    *,
    collab: Holder[CollaborativeModel] | None = None,
    history: InteractionStore | None = None,
    ranker: Holder[RankerArtefact] | None = None,
    registry: Sequence[SourceSpec] = REGISTRY,
) -> Recommender:
    content = ContentSource(
        store,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        prefetch_limit=settings.prefetch_limit,
    )
    specs = enabled(settings, registry)
    deps = SourceDeps(store, content, settings)
    return Recommender(
        store,
        content,
        sources=[ActiveSource(s, s.build(deps), s.pool(settings)) for s in specs],
        layout=FeatureLayout.of(specs),
        default_weights={str(m): w for m, w in settings.default_weights.items()},
        collab_weight=settings.collab_weight,
        collab=collab,
        history=history,
        ranker=ranker,
    )
