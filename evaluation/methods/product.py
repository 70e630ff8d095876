"""The product's recommender behind the Method contract: the ONE module of the evaluation that
touches `core.recommend` (it builds the `Recommender` over a store, and calls
`Recommender.recommend(SeedRequest)` and `Recommender.recommend_for_user(user_id, …)`), so a
change of the recommender's API is adapted here and nowhere else.

Two modes. Personal (`personal=True`, a query with a `user_id`): the user's recommendations
as `GET /users/{id}/recommendations` computes them — seeded by the user's known tracks, their
history excluded, reranked by the collaborative model at `collab_weight`. Seeded: the query's
seeds as the positive tracks of `POST /recommendations` (at most `MAX_SEEDS`).

The catalog is indexed and the model trained by the harness once for all configurations
(`evaluation.indexing`), so `fit` has nothing to learn.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from core.collab.holder import ModelHolder
from core.recommend.errors import UnknownUserError, UnsupportedQueryError
from core.recommend.factory import build_recommender
from core.recommend.recommender import Recommender, SeedRequest
from core.recommend.results import RankedTrack, Recommendation
from core.store import VectorStore
from evaluation.methods.base import Query, TrainData
from schemas.api import RecommendationRequest
from schemas.settings import Settings


def _bound(field: str, attribute: str) -> int:
    """A bound of POST /recommendations' request model (its one definition)."""
    metadata = RecommendationRequest.model_fields[field].metadata
    return int(next(getattr(m, attribute) for m in metadata if hasattr(m, attribute)))


MAX_SEEDS = _bound("positive", "max_length")  # what POST /recommendations accepts as seeds
MAX_LIMIT = _bound("limit", "le")  # and as a page
ProductRecommender = Recommender  # what the protocols hold, without importing core.recommend


def product_recommender(
    store: VectorStore, *, model_dir: Path | None = None, pool: int | None = None
) -> Recommender:
    """The service's recommender over an evaluation collection, built by the factory from the
    settings (so the evaluation measures what serves): `pool`, when given, replaces the
    settings' candidate_pool and prefetch_limit (a wider rerank); the LightFM artefact in
    `model_dir` (if any) for personal queries."""
    settings = Settings()
    if pool is not None:
        settings = settings.model_copy(update={"candidate_pool": pool, "prefetch_limit": pool})
    collab = ModelHolder(model_dir) if model_dir is not None else None
    return build_recommender(settings, store, collab=collab)


def ranked_ids(response: Recommendation) -> list[str]:
    """Track ids best first, equal scores ordered by id.

    Weighted RRF ties exactly whenever two tracks swap ranks across two equally weighted
    modalities, and the engine's order among ties differs between runs; ordering ties by id
    makes the report reproducible without changing which tracks were returned.
    """

    def key(item: RankedTrack) -> tuple[float, str]:
        score = item.blended_score if item.blended_score is not None else item.score
        return (-score, item.track.id)

    return [item.track.id for item in sorted(response.items, key=key)]


class ProductMethod:
    def __init__(
        self,
        name: str,
        recommender: Recommender,
        *,
        weights: Mapping[str, float] | None = None,
        collab_weight: float | None = None,
        personal: bool = False,
    ) -> None:
        self.name = name
        self.recommender = recommender
        self.weights = dict(weights or {})
        self.collab_weight = collab_weight
        self.personal = personal

    def fit(self, data: TrainData) -> ProductMethod:
        return self

    def rank(self, query: Query, k: int) -> list[str]:
        """The product's answer minus any banned track; asked again for more when one was
        dropped (the product excludes the seeds and a user's history itself, so in the
        protocols here nothing is dropped and the product's own list is measured)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        banned = query.banned
        limit = k
        while True:
            found = self._ask(query, limit)
            kept = [t for t in found if t not in banned]
            if len(kept) >= k or len(found) < limit or limit >= self._max_limit:
                return kept[:k]
            limit = min(self._max_limit, limit + len(found) - len(kept))

    @property
    def _max_limit(self) -> int:
        return 10**6 if self.personal else MAX_LIMIT

    def _ask(self, query: Query, limit: int) -> list[str]:
        try:
            if self.personal and query.user_id is not None:
                response = self.recommender.recommend_for_user(
                    query.user_id,
                    limit=limit,
                    weights=self.weights,
                    collab_weight=self.collab_weight,
                )
            elif query.seeds:
                request = SeedRequest(
                    positive=list(query.seeds[:MAX_SEEDS]),
                    weights=self.weights,
                    limit=limit,
                    collab_weight=self.collab_weight,
                )
                response = self.recommender.recommend(request)
            else:
                return []
        except (UnknownUserError, UnsupportedQueryError):
            return []  # no history, or seeds without a vector the weights allow: no answer
        return ranked_ids(response)
