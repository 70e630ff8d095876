"""Dependencies as Annotated aliases, so each route's signature reads as its contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from api.resources import Resources
from core.recommend.recommender import Recommender
from core.recommend.search import Searcher
from schemas.api import Filters


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_recommender(resources: ResourcesDep) -> Recommender:
    return resources.recommender


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


def get_searcher(resources: ResourcesDep) -> Searcher:
    return resources.searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def filters_from_query(
    genre: Annotated[list[str] | None, Query(description="Repeat for several genres.")] = None,
    year_min: Annotated[int | None, Query(ge=1000, le=3000)] = None,
    year_max: Annotated[int | None, Query(ge=1000, le=3000)] = None,
    explicit: bool | None = None,
    exclude_artist: Annotated[list[str] | None, Query()] = None,
) -> Filters:
    try:
        return Filters(
            genres=genre or [],
            year_min=year_min,
            year_max=year_max,
            explicit=explicit,
            exclude_artists=exclude_artist or [],
        )
    except ValidationError as exc:
        # The body model's rules (non-empty genre, year order) reported as query errors (422).
        names = {"genres": "genre", "exclude_artists": "exclude_artist"}
        errors = [
            {**err, "loc": ("query", names.get(str(err["loc"][0]), err["loc"][0]), *err["loc"][1:])}
            if err["loc"]
            else {**err, "loc": ("query",)}
            for err in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


FiltersDep = Annotated[Filters, Depends(filters_from_query)]
