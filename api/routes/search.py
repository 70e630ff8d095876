from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import FiltersDep, RecommenderDep
from schemas.api import SearchResponse

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchResponse)
def search(
    recommender: RecommenderDep,
    filters: FiltersDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="Free text.")],
    modality: Literal["lyrics"] = "lyrics",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
) -> SearchResponse:
    """Free text → lyrics embedding → the tracks whose lyrics are nearest."""
    return recommender.search_text(q, limit=limit, offset=offset, filters=filters)
