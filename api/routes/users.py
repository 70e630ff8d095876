from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import FiltersDep, RecommenderDep
from schemas.api import RecommendationResponse

router = APIRouter(tags=["users"])


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationResponse,
    responses={404: {"description": "The user has no interactions to seed from."}},
)
def user_recommendations(
    user_id: Annotated[str, Path(min_length=1, max_length=128)],
    recommender: RecommenderDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    collab_weight: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> RecommendationResponse:
    """Candidates from a fused query seeded by the user's recent tracks, reranked by a blend
    of content similarity and the LightFM score; tracks the user already has are excluded.
    A user the model does not know gets content-only results, flagged in `personalization`.
    """
    return recommender.recommend_for_user(
        user_id, limit=limit, offset=offset, filters=filters, collab_weight=collab_weight
    )
