"""`/health`: open to every caller (load balancers probe it), so nothing in it names a path."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ResourcesDep
from api.errors import RETRY_AFTER_SECONDS
from api.status import model_status, public, ranker_status
from core.store import StoreError
from schemas.api import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse)
def health(resources: ResourcesDep, response: Response) -> HealthResponse:
    """Degraded (HTTP 503) while the collection is missing, Qdrant is unreachable or the
    database has not answered since start-up (the reason in `detail`)."""
    store = resources.store
    encoders = {
        name: encoder.encoder_id
        for name, encoder in (
            ("lyrics", resources.lyrics_encoder),
            ("cover", resources.cover_encoder),
        )
        if encoder is not None
    }
    database = resources.database
    base = dict(
        database="ok" if database.ready else "unavailable",
        engine=store.engine,
        collection=store.collection,
        encoders=encoders,
        collaborative=model_status(resources.collab),
        ranker=ranker_status(resources.ranker),
    )
    try:
        exists = store.exists()
        if exists:
            store.layout()  # damaged metadata (empty, not JSON) is named here, not a 500 later
        points = store.count() if exists else None
    except StoreError as exc:
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return HealthResponse(
            status="degraded", collection_exists=False, points=None, detail=public(str(exc)), **base
        )
    if not exists:
        response.status_code = 503
        return HealthResponse(
            status="degraded",
            collection_exists=False,
            points=None,
            detail="collection not indexed yet: run `musicrec index`",
            **base,
        )
    if not database.ready:
        response.status_code = 503
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return HealthResponse(
            status="degraded",
            collection_exists=True,
            points=points,
            detail=public(f"database unavailable: {database.reason}"),
            **base,
        )
    return HealthResponse(status="ok", collection_exists=True, points=points, **base)
