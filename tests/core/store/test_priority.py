"""Background queries wait for requests being served (core/store/priority.py): real threads,
and a real embedded shard whose engine calls go through the priority."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from qdrant_client import QdrantClient

from core.store import VectorStore
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from core.store.priority import QueryPriority
from tests.core.store.contract import LAYOUT, N, make_points


def _in_background(priority: QueryPriority, call: Callable[[], object]) -> threading.Thread:
    """`call` on a thread inside `priority.background()`; the thread records when it ended."""

    def run() -> None:
        with priority.background():
            call()
        thread.ended = time.monotonic()  # type: ignore[attr-defined]

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_background_query_waits_until_the_request_is_served() -> None:
    priority = QueryPriority(max_wait=5.0)
    with priority.serving():
        thread = _in_background(priority, priority.before_query)
        time.sleep(0.3)
        assert thread.is_alive(), "the background query went ahead of the request"
        released = time.monotonic()
    thread.join(2)
    assert not thread.is_alive()
    assert thread.ended >= released  # type: ignore[attr-defined]
    assert priority.waits == 1


def test_the_wait_is_bounded_and_requests_never_wait() -> None:
    priority = QueryPriority(max_wait=0.2)
    with priority.serving():
        started = time.monotonic()
        priority.before_query()  # a request's own query (not background work)
        assert time.monotonic() - started < 0.05
        thread = _in_background(priority, priority.before_query)
        thread.join(3)
        waited = thread.ended - started  # type: ignore[attr-defined]
    assert 0.15 <= waited < 2.0
    assert priority.waits == 1


@pytest.mark.parametrize("max_wait", [0.0, 5.0])
def test_no_wait_when_switched_off_or_nothing_is_served(max_wait: float) -> None:
    priority = QueryPriority(max_wait=max_wait)
    context = priority.serving() if max_wait == 0 else contextlib.nullcontext()
    with context:
        started = time.monotonic()
        _in_background(priority, priority.before_query).join(3)
        assert time.monotonic() - started < 0.5
    assert priority.waits == 0


def test_nested_requests_are_all_waited_for_and_background_nests() -> None:
    priority = QueryPriority(max_wait=5.0)
    first, second = priority.serving(), priority.serving()
    first.__enter__()
    second.__enter__()
    assert priority.in_flight == 2
    thread = _in_background(priority, priority.before_query)
    first.__exit__(None, None, None)
    time.sleep(0.2)
    assert thread.is_alive(), "one request still in flight"
    second.__exit__(None, None, None)
    thread.join(2)
    assert not thread.is_alive() and priority.in_flight == 0
    with priority.background(), priority.background():
        pass
    with priority.serving():
        started = time.monotonic()
        priority.before_query()  # this thread left background() again: no wait
        assert time.monotonic() - started < 0.05


def test_a_request_waiting_for_the_background_steps_aside() -> None:
    """A request that waits for its user's list under computation must not hold that
    computation back (it would wait `max_wait` per query); another request still counts."""
    priority = QueryPriority(max_wait=5.0)
    with priority.serving():
        with priority.aside():
            started = time.monotonic()
            _in_background(priority, priority.before_query).join(3)
            assert time.monotonic() - started < 0.5
            with priority.serving():  # another request arrives meanwhile
                thread = _in_background(priority, priority.before_query)
                time.sleep(0.2)
                assert thread.is_alive()
            thread.join(3)
        assert priority.in_flight == 1
        with priority.background(), priority.aside():  # background work was never counted
            assert priority.in_flight == 1
    assert priority.in_flight == 0
    with priority.aside():  # nothing counted: nothing to step aside from
        assert priority.in_flight == 0
    assert priority.in_flight == 0


def test_a_negative_wait_is_refused() -> None:
    with pytest.raises(ValueError, match="max_wait"):
        QueryPriority(-1)


def _filled(store: VectorStore) -> VectorStore:
    store.create(LAYOUT, {})
    store.upsert(make_points())
    return store


def test_the_embedded_engine_makes_background_queries_wait(tmp_path) -> None:
    """A count on a real shard, from background work, waits for the request being served;
    the request's own queries go ahead."""
    store = _filled(EdgeStore(tmp_path / "qdrant", "priority"))
    try:
        priority = QueryPriority(max_wait=5.0)
        store.yield_to_requests(priority)
        counted: list[int] = []
        with priority.serving():
            thread = _in_background(priority, lambda: counted.append(store.count()))
            time.sleep(0.3)
            assert thread.is_alive() and not counted
            assert store.count() == N
        thread.join(5)
        assert counted == [N]
    finally:
        store.close()


def test_a_client_store_has_no_queries_to_hold_back() -> None:
    """qdrant-client waits on a socket (its local mode in a test): nothing to hold back."""
    store = _filled(ClientStore(QdrantClient(location=":memory:"), "priority", engine="memory"))
    try:
        priority = QueryPriority(max_wait=5.0)
        store.yield_to_requests(priority)
        counted: list[int] = []
        with priority.serving():
            _in_background(priority, lambda: counted.append(store.count())).join(3)
            assert counted == [N]
        assert priority.waits == 0
    finally:
        store.close()
