"""The one retry policy (core.retry): Retry-After in both forms, and the stop conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from core.retry import TransientError, parse_retry_after, retrying

NOW = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert later.endswith("GMT")
    assert parse_retry_after(later, now=NOW) == pytest.approx(90.0)
    earlier = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0
    for junk in (None, "", "soon", "Mon, 99 Foo 2026"):
        assert parse_retry_after(junk) is None


def _failing(times: int, retry_after: float | None = None):
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise TransientError("HTTP 503", retry_after=retry_after)
        return "ok"

    return call, calls


def test_server_delay_is_believed_over_the_backoff_and_capped() -> None:
    slept: list[float] = []
    call, calls = _failing(2, retry_after=7.0)
    assert retrying(first=0.01, cap=5.0, attempts=3, sleep=slept.append)(call) == "ok"
    assert slept == [5.0, 5.0]  # 7 s asked, capped at 5
    slept.clear()
    call, calls = _failing(5)
    with pytest.raises(TransientError, match="503"):
        retrying(first=1.0, cap=3.0, attempts=3, sleep=slept.append)(call)
    assert len(calls) == 3
    assert 1.0 <= slept[0] <= 1.5 and 2.0 <= slept[1] <= 2.5  # exponential, with jitter


def test_budget_refuses_a_wait_that_would_overrun_it() -> None:
    slept: list[float] = []
    call, calls = _failing(1, retry_after=30.0)

    def give_up(state):
        raise RuntimeError(f"gave up before waiting {state.upcoming_sleep:g}s")

    with pytest.raises(RuntimeError, match="waiting 30s"):
        retrying(first=0.5, cap=8.0, budget=10.0, on_give_up=give_up, sleep=slept.append)(call)
    assert slept == [] and len(calls) == 1


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        retrying(first=0.01, cap=1.0, attempts=5)(call)
    assert calls == [1]
