"""`/jobs`: index and train in the process that owns the store, while it serves.

All of it needs the API key. `POST /jobs` runs a catalog already under MUSICREC_IMPORT_DIR
(nothing outside it is read: a client names files, it does not get to read the disk) or a
train job; `POST /jobs/upload` takes the catalog as the request body, bounded by
MUSICREC_MAX_IMPORT_BYTES, into the import directory's `uploads/`. One job runs at a time;
the others wait in order (`queued`).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import ResourcesDep
from api.errors import RETRY_AFTER_SECONDS
from api.resources import Resources
from api.security import WriteAccess
from core.interactions.jobs import JobRecord
from jobs.runner import JobRunner
from schemas.jobs import CatalogSchema, JobList, JobRequest, JobResponse
from schemas.settings import Settings

router = APIRouter(tags=["jobs"])
upload_router = APIRouter(tags=["jobs"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {},
    403: {},
    503: {"description": "The database is not reachable yet."},
}


def _response(record: JobRecord) -> JobResponse:
    return JobResponse(**asdict(record))


def _runner(resources: Resources) -> JobRunner:
    runner = resources.jobs
    if runner is None or not runner.started:
        raise HTTPException(
            503,
            detail="jobs are unavailable until the database is reachable",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    return runner


def _import_dir(resources: Resources) -> Path:
    directory = resources.settings.import_dir
    assert directory is not None
    return directory.resolve()


def catalog_in_import_dir(import_dir: Path, given: str) -> Path:
    """The file `given` names inside `import_dir`; 400 for anything else (`..`, a symlink
    out, a directory, a missing file), naming what was asked, not the server's layout."""
    path = (import_dir / given).resolve()
    if not path.is_relative_to(import_dir):
        raise HTTPException(400, detail=f"path '{given}' is outside the import directory")
    if not path.is_file():
        raise HTTPException(400, detail=f"no catalog file '{given}' in the import directory")
    return path


@router.post("/jobs", response_model=JobResponse, status_code=202, responses=_AUTH)
def submit_job(body: JobRequest, resources: ResourcesDep, _: WriteAccess) -> JobResponse:
    """Queue an index job (a file in the import directory) or a train job (the collection's
    tracks, every interaction in the database); poll `GET /jobs/{id}`."""
    runner = _runner(resources)
    if body.kind == "train":
        return _response(runner.submit("train", {"trigger": "request"}))
    assert body.path is not None
    path = catalog_in_import_dir(_import_dir(resources), body.path)
    params = {"path": str(path), "schema": body.catalog_schema, "force": body.force}
    return _response(runner.submit("index", params))


@upload_router.post(
    "/jobs/upload",
    response_model=JobResponse,
    status_code=202,
    responses={**_AUTH, 413: {"description": "Larger than MUSICREC_MAX_IMPORT_BYTES."}},
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def upload_catalog(
    request: Request,
    resources: ResourcesDep,
    _: WriteAccess,
    schema: Annotated[CatalogSchema, Query()] = "auto",
    force: bool = False,
) -> JobResponse:
    """Queue an index job of the catalog CSV sent as the body (streamed to disk, never held
    in memory; refused past MUSICREC_MAX_IMPORT_BYTES)."""
    runner = _runner(resources)
    limit = resources.settings.max_import_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"catalog larger than {limit} bytes")
    uploads = _import_dir(resources) / "uploads"
    await run_in_threadpool(uploads.mkdir, parents=True, exist_ok=True)
    path = uploads / f"{uuid.uuid4()}.csv"
    size = 0
    try:
        with path.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, detail=f"catalog larger than {limit} bytes")
                await run_in_threadpool(out.write, chunk)
        if size == 0:
            raise HTTPException(400, detail="empty body: send the catalog CSV as the body")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    params = {"path": str(path), "schema": schema, "force": force, "upload": True}
    return _response(runner.submit("index", params))


@router.get("/jobs", response_model=JobList, responses=_AUTH)
def list_jobs(
    resources: ResourcesDep, _: WriteAccess, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> JobList:
    """The newest jobs first, including what a previous process left `interrupted`."""
    return JobList(jobs=[_response(r) for r in _runner(resources).records.list(limit)])


def _job(resources: Resources, job_id: str) -> JobRecord:
    record = _runner(resources).records.get(job_id)
    if record is None:
        raise HTTPException(404, detail=f"job '{job_id}' not found")
    return record


@router.get("/jobs/owner", responses={401: {}, 403: {}})
def owner(_: WriteAccess) -> dict[str, int | str]:
    """This process (pid, host): the CLI checks that the API its owner file names is this one,
    not another server that took the port since."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


@router.get("/jobs/{job_id}", response_model=JobResponse, responses={**_AUTH, 404: {}})
def get_job(job_id: str, resources: ResourcesDep, _: WriteAccess) -> JobResponse:
    """State, progress, counts, the first rejected rows, the versions a train job published."""
    return _response(_job(resources, job_id))


@router.delete("/jobs/{job_id}", response_model=JobResponse, responses={**_AUTH, 404: {}})
def cancel_job(job_id: str, resources: ResourcesDep, _: WriteAccess) -> JobResponse:
    """Cancel: a queued job at once; a running one at its next batch or epoch (what an index
    job stored stays stored; a train job that had not published publishes nothing)."""
    _job(resources, job_id)
    record = _runner(resources).cancel(job_id)
    assert record is not None
    return _response(record)


def include(app: FastAPI, settings: Settings) -> None:
    """Mounted by `create_app`: JSON bodies under the usual cap, uploads under their own."""
    app.include_router(router, max_body_size=settings.max_body_bytes)
    app.include_router(upload_router, max_body_size=settings.max_import_bytes)
