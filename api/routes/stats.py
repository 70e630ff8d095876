"""`GET /stats`: online evaluation of served recommendations (see core.interactions.online)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import ResourcesDep
from core.interactions.online import HIT_AT, online_stats
from core.store import StoreError

router = APIRouter(tags=["stats"])


class DayModelStats(BaseModel):
    day: str = Field(description="UTC day, YYYY-MM-DD.")
    model_version: str = Field(description="'content-only' when no model was loaded.")
    ranker_version: str = Field(description="'linear-blend' when no learned ranker served.")
    requests: int = Field(description="Personalised responses served.")
    users: int
    hits: int = Field(description=f"Requests with an interaction on a top-{HIT_AT} track.")
    hit_rate: float = Field(description=f"hits / requests (hit rate@{HIT_AT}).")
    distinct_tracks: int = Field(description=f"Distinct tracks served in a top {HIT_AT}.")
    coverage: float | None = Field(description="distinct_tracks / tracks in the collection.")


class StatsResponse(BaseModel):
    window_days: float = Field(description="An interaction this long after serving still hits.")
    hit_at: int = HIT_AT
    catalog_size: int | None
    model_version: str | None = Field(description="The LightFM model serving now.")
    ranker_version: str | None = Field(description="The learned ranker serving now.")
    days: list[DayModelStats]


@router.get("/stats", response_model=StatsResponse)
def stats(
    resources: ResourcesDep, days: Annotated[int, Query(ge=1, le=3650)] = 30
) -> StatsResponse:
    """Per day and model and ranker version: requests served, users, hit rate@10, catalog
    coverage; and the versions serving now, so consecutive models can be compared."""
    try:
        catalog_size = resources.store.count()
    except StoreError:
        catalog_size = None  # the numbers that need no catalog are still worth showing
    window = resources.settings.hit_window_days
    rows = online_stats(
        resources.interactions,
        window_days=window,
        since=datetime.now(UTC) - timedelta(days=days),
        catalog_size=catalog_size,
    )
    return StatsResponse(
        window_days=window,
        catalog_size=catalog_size,
        model_version=resources.collab.version,
        ranker_version=resources.ranker.version if resources.ranker else None,
        days=[DayModelStats(**asdict(r)) for r in rows],
    )
