"""The FastAPI app: composition root for the HTTP side.

Routes are plain `def` functions: FastAPI runs them in its threadpool, so encoding a query
and waiting on Qdrant never block the event loop. The lifespan builds the resources and runs
one background task: the reload check of the collaborative model and the learned ranker, so
`/health` and every request see a newly published artefact within
MUSICREC_MODEL_RELOAD_SECONDS without a request paying for the check.

`/docs` (Swagger UI) and `/redoc` are served with their scripts from this server
(fastapi-offline ships them): FastAPI's own pages load them from a CDN without Subresource
Integrity.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.jobs_runner import run_background
from api.middleware import DocsContentSecurityPolicy, RequestsInFlight, SecurityHeaders
from api.observability import install_observability
from api.resources import build_resources
from api.routes import (
    collections,
    health,
    interactions,
    jobs,
    recommendations,
    search,
    stats,
    tracks,
    ui,
    users,
)
from api.security import ReadAccess
from core.artefacts import ArtefactHolder
from schemas.settings import Settings, load_settings

log = logging.getLogger(__name__)

#: Multipart framing (boundaries, part headers, the file name) around an uploaded image.
MULTIPART_OVERHEAD = 64 * 1024


async def reload_periodically(holders: Sequence[ArtefactHolder[Any]], seconds: float) -> None:
    """Check for newer artefacts (the LightFM model, the learned ranker) every `seconds`, off
    the event loop (it reads files and may load one); an unexpected error is logged and the
    next check still runs."""
    while True:
        await asyncio.sleep(seconds)
        for holder in holders:
            try:
                await run_in_threadpool(holder.reload)
            except Exception:
                log.exception("artefact reload check failed; the loaded one keeps serving")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = app.state.resources = build_resources(settings)
        # What start-up built (encoders, models, interaction matrices) lives as long as the
        # process: out of the collector's generations, a full collection during a request no
        # longer walks it (a 1.9 s pause before, docs/performance.md "Tail latency").
        gc.collect()
        gc.freeze()
        reloader = None
        if settings.model_reload_seconds > 0:
            reloader = asyncio.create_task(
                reload_periodically(resources.holders(), settings.model_reload_seconds)
            )
        try:
            async with run_background(app):  # jobs, schedule, database reconnect, owner file
                yield
        finally:
            if reloader is not None:
                reloader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reloader
            resources.close()

    app = FastAPIOffline(
        title="musicrec",
        version="0.1.0",
        summary="Hybrid music recommendations: lyrics, cover and audio vectors in Qdrant.",
        lifespan=lifespan,
        static_url="/docs-assets",
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(DocsContentSecurityPolicy)
    install_observability(app, settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    app.include_router(health.router)  # always open: load balancers probe it
    app.include_router(ui.router)  # the app is static; the API calls it makes are checked
    app.mount("/ui", ui.assets(settings), name="ui")
    reads = [ReadAccess] if settings.protect_reads else []
    app.include_router(ui.covers, dependencies=reads)
    for module in (tracks, recommendations, search, users, interactions, stats, collections):
        app.include_router(module.router, dependencies=reads, max_body_size=settings.max_body_bytes)
    # Uploads get their own cap, refused on Content-Length before the body is read.
    app.include_router(
        search.upload_router,
        dependencies=reads,
        max_body_size=settings.max_upload_bytes + MULTIPART_OVERHEAD,
    )
    jobs.include(app, settings)
    app.add_middleware(RequestsInFlight)  # the outermost: the whole of each request counts
    install_error_handlers(app)
    document_malformed_bodies(app)
    return app


def document_malformed_bodies(app: FastAPI) -> None:
    """Add the 400 FastAPI answers for a body it cannot parse (bytes that are not UTF-8 JSON,
    broken multipart) to every operation with a body: OpenAPI cannot infer it."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for operations in generate()["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault(
                            "400", {"description": "Malformed body: not parseable."}
                        )
        return app.openapi_schema  # type: ignore[return-value]  # set by generate() above

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI documents overriding it
