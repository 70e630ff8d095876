"""Listeners: who can be personalised for (`GET /users`, API key required: it lists people),
and their recommendations, each logged with a `request_id` for online evaluation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api import responses
from api.deps import FiltersDep, PersonalListsDep, RecommenderDep, ResourcesDep
from api.security import WriteAccess
from api.served_log import should_log
from core.interactions.online import log_recommendations
from core.recommend.listeners import most_active
from core.recommend.seeds import stored_tracks
from schemas.api import RecommendationResponse, TrackOut, UserId

router = APIRouter(tags=["users"])


class KnownUser(BaseModel):
    id: str
    interactions: int = Field(
        description="Distinct tracks: recorded in the database, or in the model's training "
        "data when that is more."
    )
    in_model: bool = Field(description="False: recommendations for this user are content-only.")


class UserList(BaseModel):
    users: list[KnownUser]
    total: int = Field(description="Distinct listeners in the database and the model.")


@router.get("/users", response_model=UserList, responses={401: {}, 403: {}})
def list_users(
    resources: ResourcesDep, _: WriteAccess, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> UserList:
    """Users with something to seed from (the loaded model's and those recorded in the
    database), most interactions first, so a picker shows the richest first. Listing people
    needs the API key, whatever MUSICREC_PROTECT_READS says."""
    model = resources.collab.current()
    listeners = most_active(model, resources.interactions, limit)
    return UserList(
        users=[
            KnownUser(id=u, interactions=n, in_model=model is not None and model.has_user(u))
            for u, n in listeners.ranked
        ],
        total=listeners.total,
    )


class UserHistory(BaseModel):
    user_id: str
    total: int = Field(description="Distinct tracks the user is known to have.")
    tracks: list[TrackOut] = Field(description="Most recent first (recorded events first).")


@router.get(
    "/users/{user_id}/history",
    response_model=UserHistory,
    responses={404: {"description": "The user has no interactions."}},
)
def user_history(
    user_id: Annotated[UserId, Path()],
    recommender: RecommenderDep,
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserHistory:
    """What seeds the user's recommendations and is excluded from them: recorded events
    newest first, then the tracks the model and the ranker learned from. Like the
    recommendations, it is a read (MUSICREC_PROTECT_READS guards it)."""
    known = recommender.user_query(user_id).exclude
    found = stored_tracks(resources.store, known[:limit])
    return UserHistory(
        user_id=user_id,
        total=len(known),
        tracks=[TrackOut.from_payload(r.payload) for r in found.values()],
    )


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationResponse,
    responses={404: {"description": "The user has no interactions to seed from."}},
)
def user_recommendations(
    user_id: Annotated[UserId, Path()],
    lists: PersonalListsDep,
    resources: ResourcesDep,
    filters: FiltersDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    collab_weight: Annotated[float | None, Query(ge=0, le=1)] = None,
) -> RecommendationResponse:
    """Candidates from every source seeded by the user's history (a fused content query on
    the recent tracks, LightFM, co-occurrence, same and co-listened artists, popularity,
    EASE, iALS, RP3β and similar listeners),
    ordered by the learned ranker and explained per signal (an explicit `collab_weight` asks
    for the linear blend of content and LightFM instead); tracks the user already has are
    excluded. A user no source knows gets content-only results, flagged in `personalization`.
    The served list is logged under the response's `request_id` (see GET /stats). A default
    request (no filters, no `collab_weight`, the first MUSICREC_LIST_DEPTH tracks) is read
    from the user's kept list while their events and the models are those it was computed
    from, else computed and kept (core/recommend/lists.py); events recorded through this
    API have the list recomputed in the background at once.
    """
    result = lists.recommend_for_user(
        user_id, limit=limit, offset=offset, filters=filters, collab_weight=collab_weight
    )
    if not should_log(request, resources, user_id):
        return responses.recommendation(result)
    request_id = log_recommendations(resources.interactions, user_id, result, offset=offset)
    return responses.recommendation(result, request_id)
