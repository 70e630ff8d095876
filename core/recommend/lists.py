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

After new events (`events_recorded`, called by `POST /interactions` once they are committed)
the lists of those users that have one are recomputed in the background (`recompute_due`),
as Gorse's worker refreshes the recommendations of users with new feedback: the list then
already holds the new events when the user asks next, and a request arriving while it is
computed waits for that computation instead of running a second one (one computation per
user at a time). Events recorded through another API process are seen by the per-request
check only: there the next request computes.
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
from core.store.priority import QueryPriority
from schemas.api import Filters

log = logging.getLogger(__name__)
_NEVER = object()  # no refresh has completed yet
#: Longest a request waits for its user's list computed elsewhere before computing its own.
WAIT_SECONDS = 10.0


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

    def __init__(
        self,
        recommender: Recommender,
        *,
        size: int,
        seconds: float,
        depth: int,
        after_events: bool = True,
        priority: QueryPriority | None = None,
    ):
        """`priority`: the API's (a request waiting for a computation under way steps aside
        for it); None: one that never holds anything back."""
        self.recommender = recommender
        self.priority = priority or QueryPriority(0.0)
        self.depth = depth
        self._lists: TTLCache[str, _Kept] | None = (
            TTLCache(maxsize=size, ttl=seconds) if size > 0 else None
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.after_events = after_events
        self.recomputed_after_events = 0
        # Users whose lists are recomputed after their events (an ordered set, at most one
        # entry per kept list), and the signal that wakes the background loop for them.
        self._due: dict[str, None] = {}
        self._wake = threading.Event()
        # A user's computation under way → set when it is done (requests for them wait).
        self._computing: dict[str, threading.Event] = {}
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
        # A request explains its page only (TreeSHAP is the costly part); a later page past
        # it is read from a list the background computed, which explains every kept track.
        return self._kept_or_computed(user_id, offset, limit, explain=offset + limit)[0]

    def refresh(self, users: Iterable[str], stop: Callable[[], bool] = lambda: False) -> int:
        """Make the lists of `users` current and explained in full (those already so cost a
        read); returns how many were computed. Ends early when `stop()` says so."""
        computed = 0
        if self._lists is None:
            return computed  # nothing is kept: nothing to compute ahead
        for user in users:
            if stop():
                break
            self.recompute_due(stop)  # users with new events come before a long refresh
            computed += self._computed_ahead(user)
        return computed

    def events_recorded(self, users: Iterable[str]) -> None:
        """New events of `users` are committed: those with a kept list get it recomputed by
        the next `recompute_due` (the background loop is woken for it)."""
        if not self.after_events:
            return
        with self._lock:
            if self._lists is None:
                return
            for user in users:
                if user in self._lists:
                    self._due[user] = None
            if self._due:
                self._wake.set()

    def recompute_due(self, stop: Callable[[], bool] = lambda: False) -> int:
        """Recompute the lists of the users `events_recorded` named, oldest first; returns how
        many were computed (a list already current and explained in full costs a read)."""
        computed = 0
        while not stop():
            with self._lock:
                if not self._due:
                    break
                user = next(iter(self._due))
                del self._due[user]
            if self._computed_ahead(user):
                computed += 1
                with self._lock:
                    self.recomputed_after_events += 1
        return computed

    def wait_for_work(self, seconds: float) -> None:
        """Block until `events_recorded` or `wake` signals, or `seconds` have passed."""
        self._wake.wait(seconds)
        self._wake.clear()  # a signal after this is seen by the next wait; `_due` keeps users

    def wake(self) -> None:
        """End a `wait_for_work` now (shutdown)."""
        self._wake.set()

    def _computed_ahead(self, user: str) -> bool:
        try:
            return self._kept_or_computed(user, 0, self.depth, explain=self.depth)[1]
        except UnknownUserError:
            return False  # no track of theirs is in the collection: nothing to keep

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
        self, user_id: str, offset: int, limit: int, *, explain: int
    ) -> tuple[Recommendation, bool]:
        """The page from the user's kept list when it is valid, else from the pipeline (the
        list then kept, its first `explain` tracks explained); True when the pipeline ran."""
        assert self._lists is not None
        generation = self._generation
        snapshot = self.recommender.snapshot()
        # The events the list is checked against, and the pipeline's seeds when it runs:
        # a kept list was computed from exactly the events it is kept for.
        recent = self._recent(user_id)
        waited = False
        while True:
            if recent is not None:
                page = self._valid_page(user_id, snapshot, recent, offset, limit)
                if page is not None:
                    with self._lock:
                        self.hits += 1
                    return page, False
            with self._lock:  # join the user's computation under way, or start one
                under_way = self._computing.get(user_id)
                mine = under_way is None
                if mine:
                    done = self._computing[user_id] = threading.Event()
            if under_way is None or waited or recent is None:
                break
            # It may keep the list asked for; wait once, bounded (a stuck one does not hold
            # the request), then compute whatever it kept.
            with self.priority.aside():  # (when it is the background's: it must not wait)
                under_way.wait(WAIT_SECONDS)
            waited = True
        try:
            result = self.recommender.recommend_for_user(
                user_id, limit=self.depth, snapshot=snapshot, explain=explain, recent=recent
            )
            packed = PackedList.pack(result) if recent is not None else None
            with self._lock:
                self.misses += 1
                # Kept only when the events it came from are known and no `clear` came between.
                if packed is not None and recent is not None and generation == self._generation:
                    self._lists[user_id] = _Kept(_versions(snapshot), recent, packed)
        finally:
            if mine:  # (else a wait for another computation timed out: that one announces)
                with self._lock:
                    del self._computing[user_id]
                done.set()
        return replace(result, items=result.items[offset : offset + limit]), True

    def _valid_page(
        self, user_id: str, snapshot: Snapshot, recent: tuple[str, ...], offset: int, limit: int
    ) -> Recommendation | None:
        """The page from the user's kept list when it was computed from these inputs."""
        kept = self._get(user_id)
        if kept is None or kept.versions != _versions(snapshot) or kept.recent != recent:
            return None
        return self._page(kept.packed, offset, limit)

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
        """The page with each track's stored metadata read now; None when one is gone, or
        when the learned ranker's list was kept without the page's explanations."""
        ids = packed.ids[offset : offset + limit]
        if packed.head.personalization.explains and not all(
            packed.explained[offset : offset + limit]
        ):
            return None
        found = stored_tracks(self.recommender.store, ids)
        if len(found) < len(ids):
            return None
        return packed.page(offset, limit, {t: r.payload for t, r in found.items()})
