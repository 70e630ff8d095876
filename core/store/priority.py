"""Requests before background work, on an engine that runs inside the process.

Qdrant Edge holds the GIL for the whole of each query (docs/performance.md, "Why concurrency
does not use the second core"). While the API's background computes a personal list (after
events, or the precompute refresh), a request waits for whichever of that computation's
queries is running whenever it needs the interpreter, and an HTTP request needs it several
times (the event loop, the route's worker thread, the event loop again), so reads of kept
lists beside a busy background were several times slower at p50 and p99 (docs/performance.md,
"Kept personal lists"). With `QueryPriority`, a query made by background work (a thread inside
`background()`) first waits while any request is being served (`serving()`), at most
`max_wait` seconds: a request then waits for the one query under way when it arrived, not for
the ones after it. The background is slower by as much as the requests keep it waiting.

Hand-written: what is scheduled is another library's hold on the GIL, around calls this
process makes, which no scheduling library sees; it is a counter and a condition variable.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QueryPriority:
    """Shared by the API's request handling and its background work; thread-safe."""

    def __init__(self, max_wait: float) -> None:
        """`max_wait`: the longest one background query waits for requests (seconds; 0:
        never waits), so a steady stream of requests slows the background but never stops
        it."""
        if max_wait < 0:
            raise ValueError(f"max_wait must be >= 0, got {max_wait}")
        self.max_wait = max_wait
        self._in_flight = 0
        self._idle = threading.Condition()
        self._local = threading.local()
        self.waits = 0  # background queries that waited for requests (exported in /metrics)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @contextmanager
    def serving(self) -> Iterator[None]:
        """A request being served, from its first byte to its last."""
        with self._idle:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.notify_all()

    @contextmanager
    def aside(self) -> Iterator[None]:
        """A request being served that waits for background work (its user's list under
        computation) stops counting while it waits: the background it waits for would
        otherwise wait for it, each of its queries for `max_wait`. Background work that
        waits (for a request's computation) was never counted, and changes nothing."""
        if getattr(self._local, "background", False):
            yield
            return
        with self._idle:
            counted = self._in_flight > 0
            if counted:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.notify_all()
        try:
            yield
        finally:
            if counted:
                with self._idle:
                    self._in_flight += 1

    @contextmanager
    def background(self) -> Iterator[None]:
        """The current thread's queries are background work while inside."""
        previous = getattr(self._local, "background", False)
        self._local.background = True
        try:
            yield
        finally:
            self._local.background = previous

    def before_query(self) -> None:
        """Called by the store before each engine call: background work waits here while a
        request is served (at most `max_wait`); anything else goes on at once."""
        if not (self._in_flight and self.max_wait and getattr(self._local, "background", False)):
            return
        with self._idle:
            if self._in_flight:
                self.waits += 1
                self._idle.wait_for(lambda: self._in_flight == 0, timeout=self.max_wait)
