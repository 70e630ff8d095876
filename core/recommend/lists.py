"""Personal lists kept between requests and computed ahead, as Gorse serves recommendations
from a cache it fills offline and refreshes after training.

Why: the personalised pipeline (every source, the features, LightGBM with TreeSHAP) costs
several fused engine queries per request on a large catalog (docs/performance.md), most of it
per-candidate work on a pool of hundreds that no per-request tuning removes. Its result
depends on inputs that change rarely: the model and ranker versions, the user's recent events
and the collection. So a default request's list is kept and served again while those inputs
are the ones it was computed from:

* the request's snapshot has the model and ranker versions the list was computed with;
* the user's recent events in the database (read per request, as the pipeline reads them) are
  those it was computed from: after a new event the next request runs the pipeline (the
  track is then excluded and seeds the list), in every API process;
* it is younger than MUSICREC_LIST_CACHE_SECONDS (a catalog re-indexed by another process
  shows within that time; this process's index jobs `clear` the lists at once);
* the request is the default one (no filters, no `collab_weight`) and its page lies within
  the kept MUSICREC_LIST_DEPTH tracks.

A hit re-reads its page's tracks from the store (current metadata; a track deleted since
sends the request through the pipeline). Anything else runs the pipeline, and a default
request's result is kept for the next one. `refresh_after_change` computes the lists of the
most active users in the background after start-up, after each model or ranker change and as
they expire, so their next request is a read. The page of a kept list is the page the
pipeline answers (the ranking does not depend on the page size; tests/core/recommend/
test_lists.py compares them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from cachetools import TTLCache

from core.interactions.database import DatabaseUnavailableError
from core.recommend.errors import UnknownUserError
from core.recommend.packed import PackedList
from core.recommend.recommender import Recommender
from core.recommend.results import Recommendation
from core.recommend.seeds import stored_tracks
from core.recommend.snapshot import Snapshot
from schemas.api import Filters

log = logging.getLogger(__name__)
_NEVER = object()  # no refresh has completed yet


@dataclass(frozen=True)
class _Kept:
    versions: tuple[str | None, str | None]  # model, ranker
    recent: tuple[str, ...]  # the user's recent events it was computed from
    packed: PackedList  # the first `depth` tracks, without the tracks themselves


def _versions(snapshot: Snapshot) -> tuple[str | None, str | None]:
    return snapshot.model_version, snapshot.ranker_version


class PersonalLists:
    """`recommend_for_user` as the recommender's, answered from a kept list when it is valid
    (module docstring); thread-safe (FastAPI's threadpool and the refresh thread share it)."""

    def __init__(self, recommender: Recommender, *, size: int, seconds: float, depth: int):
        self.recommender = recommender
        self.depth = depth
        self._lists: TTLCache[str, _Kept] | None = (
            TTLCache(maxsize=size, ttl=seconds) if size > 0 else None
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._refreshed: tuple[str | None, str | None] | object = _NEVER
        self._refreshed_at = 0.0
        self.seconds = seconds
        self._generation = 0  # moved by `clear`: a list computed across it is not kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._lists) if self._lists is not None else 0

    def kept(self) -> list[PackedList]:
        """The kept lists (a copy of the references: what they hold is measured on it)."""
        with self._lock:
            return [k.packed for k in self._lists.values()] if self._lists is not None else []

    def clear(self) -> None:
        """Forget every list (the collection changed under them)."""
        with self._lock:
            self._generation += 1
            if self._lists is not None:
                self._lists.clear()

    def recommend_for_user(
        self,
        user_id: str,
        *,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
        collab_weight: float | None = None,
    ) -> Recommendation:
        if (
            self._lists is None
            or collab_weight is not None
            or (filters is not None and filters != Filters())
            or offset + limit > self.depth
        ):
            return self.recommender.recommend_for_user(
                user_id, limit=limit, offset=offset, filters=filters, collab_weight=collab_weight
            )
        return self._kept_or_computed(user_id, offset, limit)[0]

    def refresh(self, users: Iterable[str], stop: Callable[[], bool] = lambda: False) -> int:
        """Make the lists of `users` current (those already current cost a read); returns
        how many were computed. Ends early when `stop()` says so."""
        computed = 0
        if self._lists is None:
            return computed  # nothing is kept: nothing to compute ahead
        for user in users:
            if stop():
                break
            try:
                computed += self._kept_or_computed(user, 0, self.depth)[1]
            except UnknownUserError:
                continue  # no track of theirs is in the collection: nothing to keep
        return computed

    def refresh_after_change(
        self, users: Callable[[], Iterable[str]], stop: Callable[[], bool] = lambda: False
    ) -> int | None:
        """`refresh(users())` at the first call, whenever the served model or ranker changed
        since the last complete refresh, and once the lists it computed have expired (so the
        most active users keep theirs); None when none of that happened."""
        versions = _versions(self.recommender.snapshot())
        if versions == self._refreshed and time.monotonic() - self._refreshed_at < self.seconds:
            return None
        started = time.perf_counter()
        computed = self.refresh(users(), stop)
        if not stop():
            self._refreshed, self._refreshed_at = versions, time.monotonic()
        log.info(
            "personal lists: %d computed in %.1f s for model %s, ranker %s",
            computed,
            time.perf_counter() - started,
            *versions,
        )
        return computed

    def _kept_or_computed(
        self, user_id: str, offset: int, limit: int
    ) -> tuple[Recommendation, bool]:
        """The page from the user's kept list when it is valid, else from the pipeline (the
        list then kept); True when the pipeline ran."""
        assert self._lists is not None
        generation = self._generation
        snapshot = self.recommender.snapshot()
        # Read before the pipeline reads the history itself: an event recorded in between
        # is in the list but not in `recent`, so the next request computes again (never the
        # other way round).
        recent = self._recent(user_id)
        if recent is not None:
            kept = self._get(user_id)
            if kept is not None and kept.versions == _versions(snapshot) and kept.recent == recent:
                page = self._page(kept.packed, offset, limit)
                if page is not None:
                    with self._lock:
                        self.hits += 1
                    return page, False
        result = self.recommender.recommend_for_user(user_id, limit=self.depth, snapshot=snapshot)
        packed = PackedList.pack(result) if recent is not None else None
        with self._lock:
            self.misses += 1
            # Kept only when the events it came from are known and no `clear` came between.
            if packed is not None and recent is not None and generation == self._generation:
                self._lists[user_id] = _Kept(_versions(snapshot), recent, packed)
        return replace(result, items=result.items[offset : offset + limit]), True

    def _recent(self, user_id: str) -> tuple[str, ...] | None:
        """The events the pipeline would seed from; None when the database cannot say (the
        pipeline then personalises from the models alone, and nothing is kept or served)."""
        history = self.recommender.history
        if history is None:
            return ()
        try:
            return tuple(history.recent(user_id))
        except DatabaseUnavailableError:
            return None

    def _get(self, user_id: str) -> _Kept | None:
        with self._lock:
            assert self._lists is not None
            return self._lists.get(user_id)

    def _page(self, packed: PackedList, offset: int, limit: int) -> Recommendation | None:
        """The page with each track's stored metadata read now; None when one is gone."""
        ids = packed.ids[offset : offset + limit]
        found = stored_tracks(self.recommender.store, ids)
        if len(found) < len(ids):
            return None
        return packed.page(offset, limit, {t: r.payload for t, r in found.items()})
