"""The one retry policy for outbound HTTP (cover hosts, the Spotify Web API), on tenacity.

tenacity does the loop, the stop conditions and the backoff; what it does not know is HTTP:
a server that answers ``Retry-After`` (delay-seconds or an HTTP-date, RFC 9110 §10.2.3) knows
better than our backoff when to come back, so `WaitRetryAfter` believes it.

A call marks a failure worth another attempt by raising `TransientError`; anything else
propagates at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    stop_before_delay,
    stop_never,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

__all__ = ["TransientError", "WaitRetryAfter", "parse_retry_after", "retrying"]

log = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure that may succeed later (429, 5xx, timeout, dropped connection).

    ``retry_after`` is the server's own delay in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value; None when absent or unreadable.

    Both forms are honoured: ``120`` and ``Wed, 21 Oct 2026 07:28:00 GMT``. A date in the past
    means "now" (0 seconds).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # HTTP-dates are GMT by definition
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class WaitRetryAfter(wait_base):
    """The server's ``Retry-After`` when the failure carries one, else the fallback backoff;
    both capped at ``cap`` seconds when given (a cover is not worth an hour's wait)."""

    def __init__(self, fallback: wait_base, cap: float | None = None) -> None:
        self.fallback = fallback
        self.cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None and outcome.failed else None
        hinted = getattr(exc, "retry_after", None)
        delay = float(hinted) if hinted is not None else float(self.fallback(retry_state))
        return min(delay, self.cap) if self.cap is not None else delay


def retrying(
    *,
    first: float,
    cap: float,
    attempts: int | None = None,
    budget: float | None = None,
    on_give_up: Callable[[RetryCallState], NoReturn] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
) -> Retrying:
    """A tenacity `Retrying` that retries `TransientError` only.

    Backoff: exponential from ``first`` seconds with jitter, at most ``cap``; a Retry-After is
    believed up to ``cap`` too when ``attempts`` bounds the loop, and without a cap when
    ``budget`` does (the budget then refuses a wait that would overrun it, at once). Stops after
    ``attempts`` attempts and/or before a wait that would end past ``budget`` seconds. When it
    gives up, ``on_give_up`` (which must raise) turns the state into the caller's error; without
    it the last `TransientError` is re-raised.
    """
    stops: list[stop_base] = []
    if attempts is not None:
        stops.append(stop_after_attempt(attempts))
    if budget is not None:
        stops.append(stop_before_delay(budget))
    return Retrying(
        retry=retry_if_exception_type(TransientError),
        wait=WaitRetryAfter(
            wait_exponential_jitter(initial=first, max=cap, jitter=first / 2),
            cap=cap if budget is None else None,
        ),
        stop=stop_any(*stops) if stops else stop_never,
        sleep=sleep,
        reraise=on_give_up is None,
        retry_error_callback=on_give_up,
        before_sleep=_log_retry,
    )


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    log.info("%s: retrying in %.1fs (attempt %d)", exc, state.upcoming_sleep, state.attempt_number)
