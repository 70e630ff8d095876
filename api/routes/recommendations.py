from __future__ import annotations

from fastapi import APIRouter

from api.deps import RecommenderDep
from schemas.api import RecommendationRequest, RecommendationResponse

router = APIRouter(tags=["recommendations"])


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    responses={404: {"description": "Unknown seed track ids (listed in `unknown_ids`)."}},
)
def recommend(body: RecommendationRequest, recommender: RecommenderDep) -> RecommendationResponse:
    """Tracks like the positive seeds (and unlike the negative ones), fused across modalities.

    One prefetch per modality the seeds have, fused in Qdrant by weighted RRF (default) or
    DBSF; each result carries its per-modality cosine similarity to the query.
    """
    return recommender.recommend(body)
