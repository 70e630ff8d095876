from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import ResourcesDep
from api.routes.interactions import model_status
from core.artefacts import ArtefactHolder
from core.store import StoreError
from schemas.api import HealthResponse, ModelStatus

router = APIRouter(tags=["health"])


def ranker_status(holder: ArtefactHolder) -> ModelStatus:
    """Which ranker serves: a loaded artefact (learned), or none/broken (the linear blend)."""
    if holder.current() is None:
        return ModelStatus(
            status="error" if holder.error else "missing",
            detail=holder.error
            or f"no ranker in {holder.directory}: the linear blend serves (run `musicrec train`)",
        )
    meta = holder.model.metadata
    return ModelStatus(
        status="loaded",
        version=holder.version,
        trained_at=meta.get("trained_at"),
        users=meta.get("counts", {}).get("users"),
        items=len(holder.model.index),
        detail=holder.error,  # a newer artefact that failed to load: the old one serves
    )


@router.get("/health", response_model=HealthResponse)
def health(resources: ResourcesDep, response: Response) -> HealthResponse:
    """Degraded (HTTP 503) while the collection is missing or Qdrant is unreachable."""
    store = resources.store
    encoders = {
        name: encoder.encoder_id
        for name, encoder in (
            ("lyrics", resources.lyrics_encoder),
            ("cover", resources.cover_encoder),
        )
        if encoder is not None
    }
    base = dict(
        engine=store.engine,
        collection=store.collection,
        encoders=encoders,
        collaborative=model_status(resources),
        ranker=ranker_status(resources.ranker),
    )
    try:
        exists = store.exists()
        points = store.count() if exists else None
    except StoreError as exc:
        response.status_code = 503
        response.headers["Retry-After"] = "5"
        return HealthResponse(
            status="degraded", collection_exists=False, points=None, detail=str(exc), **base
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
    return HealthResponse(status="ok", collection_exists=True, points=points, **base)
