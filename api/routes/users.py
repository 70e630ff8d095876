from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from api import responses
from api.deps import FiltersDep, RecommenderDep, ResourcesDep
from schemas.api import RecommendationResponse

router = APIRouter(tags=["users"])


class KnownUser(BaseModel):
    id: str
    interactions: int = Field(description="In training plus recorded since (recent ones, capped).")
    in_model: bool = Field(description="False: recommendations for this user are content-only.")


class UserList(BaseModel):
    users: list[KnownUser]
    total: int


@router.get("/users", response_model=UserList)
def list_users(
    resources: ResourcesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> UserList:
    """Users with something to seed from (the loaded model's and those recorded through
    `POST /interactions`), most interactions first, so a picker shows the richest first."""
    counts = dict(resources.history.users())
    model = resources.collab.current()
    if model is not None:
        for user, n in model.interaction_counts().items():
            counts[user] = counts.get(user, 0) + n
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return UserList(
        users=[
            KnownUser(id=u, interactions=n, in_model=model is not None and model.has_user(u))
            for u, n in ranked
        ],
        total=len(counts),
    )


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
    return responses.recommendation(
        recommender.recommend_for_user(
            user_id, limit=limit, offset=offset, filters=filters, collab_weight=collab_weight
        )
    )
