"""What a replica fleet needs to be watched: `GET /metrics` and logs that tie lines to requests.

Metrics (Prometheus text format, one registry per app): request counts and latency histograms
per route template from prometheus-fastapi-instrumentator, plus what it cannot see — time
spent in the vector engine per operation, time spent encoding query inputs per encoder, the
versions of the collaborative model and of the learned ranker being served (the ranker decides
the order of a personal list), and the database connection pool. Engine and
encoder timings wrap the methods of the resources the lifespan built (the store and encoders
the recommender calls), so neither the domain nor the routes know about metrics.

Logs: every record carries the request id (the `X-Request-ID` a proxy sent, if well formed,
else a new one; returned in the response header: asgi-correlation-id's pure-ASGI middleware,
which sets a context variable the routes' threads inherit), one access line per request
(`AccessLog`, pure ASGI too: no body buffering, unlike Starlette's `BaseHTTPMiddleware`), and
MUSICREC_LOG_FORMAT=json turns the root handlers' output into one JSON object per line
(python-json-logger).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware, correlation_id
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from pythonjsonlogger.json import JsonFormatter
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from api.security import ReadAccess
from schemas.settings import Settings

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")  # a client's id is logged: keep it tame
log = logging.getLogger("musicrec.request")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STORE_OPERATIONS = ("search", "fused_search", "retrieve", "count")


def install_observability(app: FastAPI, settings: Settings) -> None:
    """The one call in `create_app`: metrics, request ids, log format."""
    configure_logging(settings.log_format)
    registry = CollectorRegistry()
    Instrumentator(
        should_group_status_codes=False,
        excluded_handlers=["/metrics"],
        registry=registry,
    ).instrument(app, latency_lowr_buckets=LATENCY_BUCKETS).expose(
        # Behind the key with MUSICREC_PROTECT_READS=true like every other read.
        app,
        endpoint="/metrics",
        include_in_schema=False,
        dependencies=[ReadAccess] if settings.protect_reads else [],
    )
    engine = Histogram(
        "musicrec_engine_seconds",
        "Time in the vector engine per store operation.",
        ["engine", "operation"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    encoder = Histogram(
        "musicrec_encoder_seconds",
        "Time encoding query inputs per encoder.",
        ["encoder"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )
    registry.register(_StateCollector(app))
    # Added last = runs first: the id is set before the access line is timed and written.
    app.add_middleware(AccessLog)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        validator=lambda sent: bool(_VALID_ID.match(sent)),
    )

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            _time_resources(app_.state.resources, engine, encoder)
            yield state

    app.router.lifespan_context = lifespan


_encoding: ContextVar[bool] = ContextVar("encoding", default=False)


def _timed(
    fn: Callable[..., Any], child: Any, outermost: ContextVar[bool] | None = None
) -> Callable[..., Any]:
    """`fn` observed into the histogram `child`; with `outermost`, a call made from inside
    another timed call of the same kind (encode_text calling encode) is not counted twice."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if outermost is not None and outermost.get():
            return fn(*args, **kwargs)
        token = outermost.set(True) if outermost is not None else None
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            child.observe(time.perf_counter() - started)
            if token is not None and outermost is not None:
                outermost.reset(token)

    return wrapper


def _time_resources(resources: Any, engine: Histogram, encoder: Histogram) -> None:
    """Wrap the methods of these instances (not their classes: other apps, tests and the CLI
    are untouched). The recommender holds the same objects, so its calls are timed too."""
    store = resources.store
    for op in STORE_OPERATIONS:
        setattr(store, op, _timed(getattr(store, op), engine.labels(store.engine, op)))
    for enc in (resources.lyrics_encoder, resources.cover_encoder):
        if enc is not None:
            child = encoder.labels(enc.vector_name)
            for method in ("encode", "encode_text"):
                setattr(enc, method, _timed(getattr(enc, method), child, _encoding))


class _StateCollector(Collector):
    """Read at scrape time: the served collaborative model and ranker versions and the
    database pool, when the app has them (a replica without a model, or on SQLite's pool
    without a size, reports less)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterable[Any]:
        resources = getattr(self.app.state, "resources", None)
        if resources is None:
            return
        for name, help_text, holder in (
            ("musicrec_model", "Collaborative model served by this replica.", resources.collab),
            ("musicrec_ranker", "Learned ranker served by this replica.", resources.ranker),
        ):
            info = InfoMetricFamily(name, help_text)
            info.add_metric([], {"version": getattr(holder, "version", None) or "none"})
            yield info
        lists = getattr(resources, "lists", None)
        if lists is not None:
            kept = GaugeMetricFamily("musicrec_personal_lists", "Personal lists kept in memory.")
            kept.add_metric([], len(lists))
            served = CounterMetricFamily(
                "musicrec_personal_list_requests",
                "Default personalised lists asked for, by requests and by the background refresh: "
                "read from a kept list (hit) or computed (miss).",
                labels=["outcome"],
            )
            served.add_metric(["hit"], lists.hits)
            served.add_metric(["miss"], lists.misses)
            after_events = CounterMetricFamily(
                "musicrec_personal_lists_recomputed_after_events",
                "Kept lists recomputed in the background after their user's new events.",
            )
            after_events.add_metric([], lists.recomputed_after_events)
            yield from (kept, served, after_events)
        priority = getattr(resources, "priority", None)
        if priority is not None:
            waits = CounterMetricFamily(
                "musicrec_background_query_waits",
                "Engine queries of the background's list computations that waited for requests "
                "being served (MUSICREC_BACKGROUND_QUERY_WAIT_MS).",
            )
            waits.add_metric([], priority.waits)
            yield waits
        database = getattr(resources, "database", None)
        if database is not None:
            up = GaugeMetricFamily("musicrec_database_up", "1 when the database is ready.")
            up.add_metric([], 1.0 if database.ready else 0.0)
            yield up
        for attr in ("interactions", "history"):
            pool = getattr(getattr(getattr(resources, attr, None), "engine", None), "pool", None)
            if pool is not None and callable(getattr(pool, "checkedout", None)):
                used = GaugeMetricFamily(
                    "musicrec_db_pool_checked_out", "Database connections in use."
                )
                used.add_metric([], pool.checkedout())
                size = GaugeMetricFamily("musicrec_db_pool_size", "Database pool size.")
                size.add_metric([], pool.size())
                yield from (used, size)
                return


class AccessLog(HttpMiddleware):
    """One log line per HTTP request (method, path, status, duration), written after the
    response; a pure ASGI wrapper, so streaming and error responses pass untouched."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = correlation_id.get() or "-"
        return True


def configure_logging(log_format: str) -> None:
    """Every root handler gets the request id; with "json", plain stream handlers (the
    console) format records as JSON. Other handlers (files, test capture) keep theirs."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        if not any(isinstance(f, _RequestIdFilter) for f in handler.filters):
            handler.addFilter(_RequestIdFilter())
        if log_format == "json" and type(handler) is logging.StreamHandler:
            handler.setFormatter(
                JsonFormatter(
                    "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                    rename_fields={"levelname": "level", "asctime": "time"},
                )
            )
