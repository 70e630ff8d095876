"""The collections console's API: what the embedded engine has no dashboard for.

Reads (the collections with their point counts, one collection's configuration, its points
page by page) are open like every read; a snapshot and a drop need the API key, and a drop
also the collection's name repeated in `confirm`, so a mistyped URL deletes nothing. The work
is in core/store/admin.py; a name is checked against the engine's own listing before it is
opened, so it can never name a path outside the store.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from api.deps import ResourcesDep
from api.security import WriteAccess
from api.status import public
from core.store import StoreError, VectorStore
from core.store.admin import (
    UnsupportedError,
    browse,
    collection_info,
    drop,
    list_collections,
    sibling,
    snapshot,
)

router = APIRouter(tags=["collections"])

CollectionName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class CollectionSummary(BaseModel):
    name: str
    points: int | None = Field(description="null: the collection could not be opened.")
    serving: bool = Field(description="The collection this API answers from.")
    detail: str | None = Field(None, description="Why it could not be opened.")


class CollectionList(BaseModel):
    engine: str = Field(description="edge (embedded), server, or memory.")
    serving: str
    dashboard_url: str | None = Field(
        None, description="A Qdrant server's own dashboard; null for the embedded engine."
    )
    collections: list[CollectionSummary]


class CollectionDetails(BaseModel):
    name: str
    engine: str
    points: int
    vectors: dict[str, str] = Field(description="name → size, distance and encoder.")
    payload_indexes: dict[str, str] = Field(description="field → type (points indexed).")
    disk_bytes: int | None
    index_status: str
    cluster: dict[str, Any] | None
    metadata: dict[str, Any] = Field(description="Recorded at creation (source, time, …).")


class StoredPoint(BaseModel):
    id: str
    payload: dict[str, Any]


class PointsPage(BaseModel):
    points: list[StoredPoint]
    next_offset: str | None = Field(description="Pass as `offset` for the next page.")


class SnapshotResult(BaseModel):
    snapshot: str = Field(description="The archive written, or the server's snapshot name.")


def dashboard_url(resources: ResourcesDep) -> str | None:
    """A Qdrant server serves its own console at /dashboard; local modes have none."""
    url = resources.settings.qdrant_url or ""
    if not url.startswith(("http://", "https://")):
        return None
    return url.rstrip("/") + "/dashboard"


def known(store: VectorStore, name: str) -> None:
    if name not in list_collections(store):
        raise HTTPException(404, detail=f"collection '{name}' not found")


@router.get("/collections", response_model=CollectionList)
def collections(resources: ResourcesDep) -> CollectionList:
    """Every collection of the engine the API serves from, with its point count."""
    store = resources.store
    summaries = []
    for name in list_collections(store):
        try:
            with sibling(store, name) as other:
                points: int | None = other.count()
            detail = None
        except StoreError as exc:  # one unreadable collection must not hide the others
            points, detail = None, public(str(exc))
        summaries.append(
            CollectionSummary(
                name=name, points=points, serving=name == store.collection, detail=detail
            )
        )
    return CollectionList(
        engine=store.engine,
        serving=store.collection,
        dashboard_url=dashboard_url(resources),
        collections=summaries,
    )


@router.get("/collections/{name}", response_model=CollectionDetails, responses={404: {}})
def details(name: CollectionName, resources: ResourcesDep) -> CollectionDetails:
    """Point count, vectors and their encoders, payload indexes, disk size, index status and
    the metadata recorded when the collection was created."""
    known(resources.store, name)
    with sibling(resources.store, name) as store:
        info = collection_info(store)
    # A read names no file on the server (the catalog's path is cut to its name, as /health).
    info.metadata = {k: public(v) if isinstance(v, str) else v for k, v in info.metadata.items()}
    return CollectionDetails(**vars(info))


@router.get("/collections/{name}/points", response_model=PointsPage, responses={404: {}})
def points(
    name: CollectionName,
    resources: ResourcesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[
        str | None, Query(max_length=64, description="From a page's next_offset.")
    ] = None,
) -> PointsPage:
    """Points with their payloads (no vectors), in the engine's id order."""
    known(resources.store, name)
    with sibling(resources.store, name) as store:
        page = browse(store, limit, offset)
    return PointsPage(
        points=[StoredPoint(id=p.id, payload=p.payload) for p in page.points],
        next_offset=page.next_offset,
    )


@router.post(
    "/collections/{name}/snapshot",
    response_model=SnapshotResult,
    status_code=201,
    responses={401: {}, 403: {}, 404: {}, 409: {"description": "The engine has no snapshots."}},
)
def take_snapshot(name: CollectionName, resources: ResourcesDep, _: WriteAccess) -> SnapshotResult:
    """A restorable copy: embedded, a .tar.gz under MUSICREC_SNAPSHOT_DIR (requests to the
    collection wait while it is written); a server, its own snapshot on the node."""
    known(resources.store, name)
    assert resources.settings.snapshot_dir is not None
    with sibling(resources.store, name) as store:
        try:
            return SnapshotResult(snapshot=snapshot(store, resources.settings.snapshot_dir))
        except UnsupportedError as exc:
            raise HTTPException(409, detail=str(exc)) from None


@router.delete(
    "/collections/{name}",
    status_code=204,
    responses={401: {}, 403: {}, 404: {}, 422: {"description": "`confirm` is not the name."}},
)
def drop_collection(
    name: CollectionName,
    resources: ResourcesDep,
    _: WriteAccess,
    confirm: Annotated[str, Query(description="The collection's name again.")],
) -> None:
    """Delete a collection and its metadata (the served one too: the API then reports it
    missing until `musicrec index` builds it again)."""
    if confirm != name:
        raise HTTPException(422, detail=f"confirm must repeat the name '{name}' to drop it")
    known(resources.store, name)
    with sibling(resources.store, name) as store:
        drop(store)
