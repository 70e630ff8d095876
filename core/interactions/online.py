"""Online evaluation, as in Gorse: log what each personalised response served, then count
how often a listener went on to interact with one of the first ten served tracks.

A served request is a *hit* when the same user interacted with one of its top-10 tracks at
or after serving and within the hit window (``MUSICREC_HIT_WINDOW_DAYS``). Grouped per day
and model version: requests, distinct users, hit rate@10, and catalog coverage (distinct
top-10 tracks served over the catalog size, when the caller knows it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select

from core.interactions.database import DatabaseUnavailableError, unavailable_as_domain_error
from core.interactions.store import ServedList, SqlInteractionStore, new_request_id, utc_naive
from core.interactions.tables import interactions, served, served_items
from core.recommend.results import Recommendation

log = logging.getLogger(__name__)
HIT_AT = 10
NO_MODEL = "content-only"  # the model_version shown for requests served without a model
NO_RANKER = "linear-blend"  # the ranker_version shown for requests served without a ranker


def log_recommendations(
    store: SqlInteractionStore,
    user_id: str,
    result: Recommendation,
    *,
    offset: int = 0,
) -> str | None:
    """Log what a personalised recommendation served (the domain result, whatever HTTP makes
    of it) and return its request id; what the routes call before answering.

    A database that cannot take the log does not cost the listener their recommendations:
    None comes back (the response goes out without a request id) and the failure is logged.
    """
    served_list = ServedList(
        request_id=new_request_id(),
        user_id=user_id,
        track_ids=[item.track.id for item in result.items],
        first_rank=offset,
        model_version=result.personalization.model_version,
        ranker_version=result.personalization.ranker_version,
    )
    try:
        store.log_served(served_list)
    except DatabaseUnavailableError as exc:
        log.warning("served recommendations not logged: %s", exc)
        return None
    return served_list.request_id


@dataclass(frozen=True)
class DayStats:
    day: str  # YYYY-MM-DD (UTC)
    model_version: str
    requests: int
    users: int
    hits: int
    hit_rate: float  # hits / requests
    distinct_tracks: int
    coverage: float | None  # distinct top-10 tracks / catalog size; None without a size
    ranker_version: str = NO_RANKER  # consecutive rankers are compared like models


def _days(store: SqlInteractionStore, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A time as fractional days, the one expression the two dialects spell differently."""
    if store.dialect == "postgresql":
        return func.extract("epoch", column) / 86400.0
    return func.julianday(column)


def online_stats(
    store: SqlInteractionStore,
    *,
    window_days: float,
    since: datetime | None = None,
    catalog_size: int | None = None,
) -> list[DayStats]:
    """Per (day, model version, ranker version), oldest day first; `since` defaults to 30
    days ago."""
    start = utc_naive(since) if since else utc_naive(None) - timedelta(days=30)
    day = func.date(served.c.served_at)
    model = func.coalesce(served.c.model_version, NO_MODEL)
    ranker = func.coalesce(served.c.ranker_version, NO_RANKER)
    delay = _days(store, interactions.c.event_time) - _days(store, served.c.served_at)
    hit = exists().where(
        served_items.c.request_id == served.c.request_id,
        served_items.c.rank < HIT_AT,
        interactions.c.user_id == served.c.user_id,
        interactions.c.track_id == served_items.c.track_id,
        and_(delay >= 0, delay <= window_days),
    )
    requests = (
        select(
            day.label("day"),
            model.label("model"),
            ranker.label("ranker"),
            func.count().label("requests"),
            func.count(served.c.user_id.distinct()).label("users"),
            func.sum(case((hit, 1), else_=0)).label("hits"),
        )
        .where(served.c.served_at >= start)
        .group_by(day, model, ranker)
    )
    tracks = (
        select(day, model, ranker, func.count(served_items.c.track_id.distinct()))
        .join(served_items, served_items.c.request_id == served.c.request_id)
        .where(served.c.served_at >= start, served_items.c.rank < HIT_AT)
        .group_by(day, model, ranker)
    )
    with unavailable_as_domain_error("cannot compute stats"), store.engine.connect() as conn:
        distinct = {(str(d), m, k): int(n) for d, m, k, n in conn.execute(tracks)}
        rows = conn.execute(requests).all()
    result = []
    for r in rows:
        tracks_served = distinct.get((str(r.day), r.model, r.ranker), 0)
        result.append(
            DayStats(
                day=str(r.day),
                model_version=r.model,
                requests=int(r.requests),
                users=int(r.users),
                hits=int(r.hits or 0),
                hit_rate=int(r.hits or 0) / int(r.requests),
                distinct_tracks=tracks_served,
                coverage=tracks_served / catalog_size if catalog_size else None,
                ranker_version=r.ranker,
            )
        )
    return sorted(result, key=lambda s: (s.day, s.model_version, s.ranker_version))
