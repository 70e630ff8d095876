"""The FastAPI app: composition root for the HTTP side.

Routes are plain `def` functions: FastAPI runs them in its threadpool, so encoding a query
and waiting on Qdrant never block the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from api.resources import build_resources
from api.routes import health, interactions, recommendations, search, tracks, ui, users
from api.security import ReadAccess
from core.recommend.errors import UnknownTracksError, UnknownUserError, UnsupportedQueryError
from core.store import StoreError, StoreUnavailableError
from schemas.layout import LayoutMismatchError
from schemas.settings import Settings, load_settings

RETRY_AFTER_SECONDS = "5"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.resources = build_resources(settings)
        try:
            yield
        finally:
            app.state.resources.close()

    app = FastAPI(
        title="musicrec",
        version="0.1.0",
        summary="Hybrid music recommendations: lyrics, cover and audio vectors in Qdrant.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization"],
        )
    app.include_router(health.router)  # always open: load balancers probe it
    app.include_router(ui.router)  # the page is static; the API calls it makes are checked
    for module in (tracks, recommendations, search, users, interactions):
        # Per router, not per app: a route may set a larger limit (cover uploads).
        app.include_router(
            module.router, dependencies=[ReadAccess], max_body_size=settings.max_body_bytes
        )

    @app.exception_handler(UnknownTracksError)
    def _unknown(_: Request, exc: UnknownTracksError) -> JSONResponse:
        return JSONResponse(
            status_code=404, content={"detail": str(exc), "unknown_ids": exc.track_ids}
        )

    @app.exception_handler(UnknownUserError)
    def _unknown_user(_: Request, exc: UnknownUserError) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(UnsupportedQueryError)
    def _unsupported(_: Request, exc: UnsupportedQueryError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    @app.exception_handler(LayoutMismatchError)
    def _mismatch(_: Request, exc: LayoutMismatchError) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(StoreUnavailableError)
    def _unavailable(_: Request, exc: StoreUnavailableError) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": str(exc)},
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(StoreError)
    def _store(_: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": str(exc)},
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    return app
