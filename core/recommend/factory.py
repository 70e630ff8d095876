"""Settings → the recommender (the API's lifespan and `musicrec train` build it the same way)."""

from __future__ import annotations

from core.collab.model import CollaborativeModel
from core.interactions.store import InteractionStore
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.recommender import Holder, PoolSizes, Recommender
from core.recommend.sources import ContentSource
from core.store import VectorStore
from schemas.settings import Settings


def build_recommender(
    settings: Settings,
    store: VectorStore,
    *,
    collab: Holder[CollaborativeModel] | None = None,
    history: InteractionStore | None = None,
    ranker: Holder[RankerArtefact] | None = None,
) -> Recommender:
    content = ContentSource(
        store,
        fusion=settings.fusion,
        rrf_k=settings.rrf_k,
        prefetch_limit=settings.prefetch_limit,
    )
    return Recommender(
        store,
        content,
        collab=collab,
        history=history,
        default_weights=settings.default_weights,
        collab_weight=settings.collab_weight,
        candidate_pool=settings.candidate_pool,
        ranker=ranker,
        pools=PoolSizes(
            collaborative=settings.pool_collaborative,
            cooccurrence=settings.pool_cooccurrence,
            artist=settings.pool_artist,
            colistened=settings.pool_colistened,
            popularity=settings.pool_popularity,
            ease=settings.pool_ease,
            ials=settings.pool_ials,
            rp3beta=settings.pool_rp3beta,
            userknn=settings.pool_userknn,
        ),
    )
