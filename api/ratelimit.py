"""Per-client request budgets for the endpoints that cost real work per call.

Text search runs the lyrics encoder, cover search decodes an image and runs the cover encoder,
a refresh calls Spotify: without a budget one client can keep the two cores busy for everyone.
The `limits` library keeps a moving window per (endpoint, client address) in the storage
MUSICREC_RATE_LIMIT_STORAGE names: `memory://` (this process only) by default, `redis://…`
so that every replica behind a load balancer charges one shared budget. The client is the
TCP peer, or the X-Forwarded-For address when the peer is one of MUSICREC_TRUSTED_PROXIES
(uvicorn's proxy-headers middleware, configured in `api.__main__`); nothing else is trusted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimitStorageError(RuntimeError):
    """The budget's storage (Redis) cannot be reached: the request is not let through
    uncounted (that would lift every limit while Redis is down); the API answers 503."""


def open_storage(uri: str) -> Storage:
    """The `limits` storage for `uri`; a scheme `limits` does not know is a ValueError."""
    storage = storage_from_string(uri)
    if not isinstance(storage, Storage):  # an async+… scheme: the routes are synchronous
        raise ValueError(f"rate-limit storage '{uri}' is asynchronous; use a synchronous one")
    return storage


class RateLimits:
    """One budget per named endpoint; a name without a rate is not limited."""

    def __init__(self, rates: Mapping[str, str | None], storage: str = "memory://") -> None:
        self._storage = open_storage(storage)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._rates: dict[str, RateLimitItem] = {
            name: parse(rate) for name, rate in rates.items() if rate
        }

    def retry_after(self, name: str, client: str) -> int | None:
        """Count one request; None if it is within budget, else the seconds until it would be."""
        rate = self._rates.get(name)
        if rate is None:
            return None
        unreachable: tuple[type[Exception], ...] = (StorageError, *_exceptions(self._storage))
        try:
            if self._limiter.hit(rate, name, client):
                return None
            reset = self._limiter.get_window_stats(rate, name, client).reset_time
        except unreachable as exc:
            raise RateLimitStorageError(
                "the rate-limit storage is unreachable; retry shortly"
            ) from exc
        return max(1, math.ceil(reset - time.time()))

    def rate(self, name: str) -> str:
        return str(self._rates[name])


def _exceptions(storage: Storage) -> tuple[type[Exception], ...]:
    """What the storage's client raises when its server is down (redis.ConnectionError …);
    the moving window's scripts are not wrapped into `limits`' StorageError."""
    base = storage.base_exceptions
    return base if isinstance(base, tuple) else (base,)
