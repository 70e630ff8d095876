"""Dependencies as Annotated aliases, so each route's signature reads as its contract."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError, create_model
from pydantic.fields import FieldInfo

from api.resources import Resources
from core.recommend.lists import PersonalLists
from core.recommend.recommender import Recommender
from core.recommend.search import Searcher
from schemas.api import Filters
from schemas.tracks import point_id


def get_resources(request: Request) -> Resources:
    return request.app.state.resources


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_recommender(resources: ResourcesDep) -> Recommender:
    return resources.recommender


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


def get_searcher(resources: ResourcesDep) -> Searcher:
    return resources.searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def get_personal_lists(resources: ResourcesDep) -> PersonalLists:
    return resources.lists


PersonalListsDep = Annotated[PersonalLists, Depends(get_personal_lists)]


# Query names are singular (`?genre=a&genre=b`); the body's lists are plural.
_QUERY_NAME = {"genres": "genre", "exclude_artists": "exclude_artist"}
_FIELDS = tuple(Filters.model_fields)
_REPEAT = {"genres": "Repeat for several genres.", "exclude_artists": "Repeat for several."}

#: The body's `Filters` as a query-parameter model, derived from it so the two cannot drift:
#: same types and limits (which then show in the OpenAPI schema), singular names.
FilterQuery = create_model(  # type: ignore[call-overload]  # fields from a dict: no overload fits
    "FilterQuery",
    **{
        _QUERY_NAME.get(name, name): (
            info.annotation,
            FieldInfo.merge_field_infos(info, description=_REPEAT.get(name)),
        )
        for name, info in Filters.model_fields.items()
    },
)


def filters_from_query(query: Annotated[FilterQuery, Query()]) -> Filters:
    """Each field is checked by the query model (a 422 names it); what remains are the
    cross-field rules of `Filters` (year order), reported against the query as a whole."""
    values = query.model_dump()
    try:
        return Filters(**{name: values[_QUERY_NAME.get(name, name)] for name in _FIELDS})
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        raise RequestValidationError([{**err, "loc": ("query",)} for err in errors]) from None


FiltersDep = Annotated[Filters, Depends(filters_from_query)]

TrackIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def get_stored_track(track_id: TrackIdPath, resources: ResourcesDep) -> dict[str, Any]:
    """The stored payload of the path's track; 404 naming the id when there is none."""
    found = resources.store.retrieve([point_id(track_id)])
    if not found:
        raise HTTPException(404, detail=f"track '{track_id}' not found")
    return found[0].payload


#: A route taking this answers 404 for an unknown `{track_id}` before its body runs.
StoredTrack = Annotated[dict[str, Any], Depends(get_stored_track)]
