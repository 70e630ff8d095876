"""Domain exceptions translated to HTTP, in one place (routes stay free of try/except).

Messages that may carry a file path (the store's, a layout mismatch) go through
`api.status.public` so a caller never learns the server's directory layout.
"""

from __future__ import annotations

import json
import logging
import math

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.ratelimit import RateLimitStorageError
from api.status import public
from core.interactions.database import DatabaseCorruptError, DatabaseUnavailableError
from core.recommend.errors import UnknownTracksError, UnknownUserError, UnsupportedQueryError
from core.spotify.errors import SpotifyError, SpotifyUnavailableError
from core.store import StoreError
from schemas.layout import LayoutMismatchError

RETRY_AFTER_SECONDS = "5"
log = logging.getLogger(__name__)


def _detail(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message}, headers=headers or None)


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a 422 echoes the client's input, and a
    lone surrogate in it cannot be encoded as UTF-8 (it was a 500)."""

    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def _echo_safe(value: object) -> object:
    """The echoed input with NaN and ±Infinity as strings: JSON has no such numbers, and a
    body's `NaN`, `Infinity` or `1e400` (which parses to inf) made the 422 itself a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _echo_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_echo_safe(v) for v in value]
    return value


def _why_unavailable(exc: DatabaseUnavailableError) -> str:
    """The kind of outage, in words that name no host, port or file."""
    message = str(exc).lower()
    if isinstance(exc, DatabaseCorruptError):
        return "damaged (see the server log)"
    if "locked" in message:
        return "locked by another writer"
    if "full" in message or "no space" in message:
        return "out of disk space"
    return "unreachable"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return AsciiJSONResponse(
            status_code=422, content={"detail": _echo_safe(jsonable_encoder(exc.errors()))}
        )

    @app.exception_handler(UnknownTracksError)
    def _unknown(_: Request, exc: UnknownTracksError) -> JSONResponse:
        return JSONResponse(
            status_code=404, content={"detail": str(exc), "unknown_ids": exc.track_ids}
        )

    @app.exception_handler(UnknownUserError)
    def _unknown_user(_: Request, exc: UnknownUserError) -> JSONResponse:
        return _detail(404, str(exc))

    @app.exception_handler(UnsupportedQueryError)
    def _unsupported(_: Request, exc: UnsupportedQueryError) -> JSONResponse:
        return _detail(400, str(exc))

    @app.exception_handler(LayoutMismatchError)
    def _mismatch(_: Request, exc: LayoutMismatchError) -> JSONResponse:
        return _detail(409, public(str(exc)))

    @app.exception_handler(StoreError)  # StoreUnavailableError included: the same answer
    def _store(_: Request, exc: StoreError) -> JSONResponse:
        return _detail(503, public(str(exc)), **{"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(DatabaseUnavailableError)  # unreachable, locked, full or damaged
    def _database(_: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        # The driver's message names the database host and port (or file): the log keeps it,
        # the caller, who may be anonymous, learns only that it is unavailable.
        log.warning("database unavailable: %s", exc)
        return _detail(
            503,
            f"the interaction database is {_why_unavailable(exc)}; retry later",
            **{"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(RateLimitStorageError)  # the shared budget's Redis is down
    def _rate_storage(_: Request, exc: RateLimitStorageError) -> JSONResponse:
        return _detail(503, str(exc), **{"Retry-After": RETRY_AFTER_SECONDS})

    @app.exception_handler(SpotifyUnavailableError)
    def _spotify_down(_: Request, exc: SpotifyUnavailableError) -> JSONResponse:
        return _detail(503, str(exc), **{"Retry-After": str(exc.retry_after)})

    @app.exception_handler(SpotifyError)  # Spotify refusing (bad credentials): a bad gateway
    def _spotify(_: Request, exc: SpotifyError) -> JSONResponse:
        return _detail(502, str(exc))
