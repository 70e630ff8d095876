from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from fastapi import APIRouter, Request

from api import responses
from api.deps import RecommenderDep, ResourcesDep
from api.served_log import should_log
from core.interactions.online import log_recommendations
from core.recommend.recommender import SeedRequest
from schemas.api import RecommendationRequest, RecommendationResponse

router = APIRouter(tags=["recommendations"])


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    responses={404: {"description": "Unknown seed track ids (listed in `unknown_ids`)."}},
)
def recommend(
    body: RecommendationRequest,
    recommender: RecommenderDep,
    resources: ResourcesDep,
    request: Request,
) -> RecommendationResponse:
    """Tracks like the positive seeds (and unlike the negative ones), fused across modalities.

    One prefetch per modality the seeds have, fused in Qdrant by weighted RRF (default) or
    DBSF; each result carries its per-modality cosine similarity to the query. With a
    `user_id`, every candidate source joins (content, LightFM, co-occurrence, same artist,
    popularity) and the learned ranker orders the pool, each result explained per signal (an
    explicit `collab_weight` asks for the linear blend of content and LightFM instead), and
    the served list of a user who exists (a history, or known to a model) is logged under
    the response's `request_id` (GET /stats).
    """
    result = recommender.recommend(
        SeedRequest(
            positive=body.positive,
            negative=body.negative,
            weights=cast("Mapping[str, float]", body.weights),
            filters=body.filters,
            limit=body.limit,
            offset=body.offset,
            user_id=body.user_id,
            collab_weight=body.collab_weight,
        )
    )
    if body.user_id is None or not should_log(request, resources, body.user_id):
        return responses.recommendation(result)
    request_id = log_recommendations(
        resources.interactions, body.user_id, result, offset=body.offset
    )
    return responses.recommendation(result, request_id)
