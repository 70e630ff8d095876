"""Dependencies as Annotated aliases, so each route's signature reads as its contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.recommender import Recommender
from api.resources import Resources
from schemas.api import Filters


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_recommender(resources: ResourcesDep) -> Recommender:
    return resources.recommender


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


def filters_from_query(
    genre: Annotated[list[str] | None, Query(description="Repeat for several genres.")] = None,
    year_min: Annotated[int | None, Query(ge=1000, le=3000)] = None,
    year_max: Annotated[int | None, Query(ge=1000, le=3000)] = None,
    explicit: bool | None = None,
    exclude_artist: Annotated[list[str] | None, Query()] = None,
) -> Filters:
    return Filters(
        genres=genre or [],
        year_min=year_min,
        year_max=year_max,
        explicit=explicit,
        exclude_artists=exclude_artist or [],
    )


FiltersDep = Annotated[Filters, Depends(filters_from_query)]
