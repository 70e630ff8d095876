"""`POST /interactions` (record what listeners did) and the model admin routes."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import ResourcesDep
from api.security import WriteAccess
from api.status import model_status
from core.interactions.store import Interaction
from schemas.api import InteractionsRequest, InteractionsResponse, ModelStatus
from schemas.tracks import point_id

router = APIRouter(tags=["interactions"])


@router.post(
    "/interactions",
    response_model=InteractionsResponse,
    status_code=201,
    responses={
        401: {},
        403: {},
        413: {},
        503: {
            "description": "The database is unreachable, locked or full: nothing was "
            "stored; retry after Retry-After seconds (with the same event ids)."
        },
    },
)
def record_interactions(
    body: InteractionsRequest, resources: ResourcesDep, _: WriteAccess
) -> InteractionsResponse:
    """Record listens/likes/playlist adds in one transaction: 201 means all are committed,
    any error means none is. Events whose `event_id` the user already sent are skipped (a
    retry is safe). They seed the user's recommendations at once, in every API process on
    the database, and feed the next `musicrec train`."""
    ids = list(dict.fromkeys(e.track_id for e in body.events))
    found = {r.payload["track_id"] for r in resources.store.retrieve([point_id(t) for t in ids])}
    unknown = [
        {
            "loc": ["body", "events", i, "track_id"],
            "msg": f"unknown track id '{e.track_id}'",
            "type": "value_error",
        }
        for i, e in enumerate(body.events)
        if e.track_id not in found
    ]
    if unknown:
        raise HTTPException(422, detail=unknown)
    result = resources.interactions.record(
        Interaction(e.user_id, e.track_id, e.weight, e.kind, e.timestamp, e.event_id)
        for e in body.events
    )
    if result.recorded:
        resources.lists.events_recorded(dict.fromkeys(e.user_id for e in body.events))
    return InteractionsResponse(recorded=result.recorded, duplicates=result.duplicates)


@router.post("/model/reload", response_model=ModelStatus, responses={401: {}, 403: {}})
def reload_model(resources: ResourcesDep, _: WriteAccess) -> ModelStatus:
    """Load the newest published LightFM model and learned ranker now, without a restart;
    answers the model's status (`/health` has the ranker's)."""
    for holder in resources.holders():
        holder.reload()
    return model_status(resources.collab)
