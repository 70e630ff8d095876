"""Per-client request budgets for the endpoints that cost real work per call.

Text search runs the lyrics encoder, cover search decodes an image and runs the cover encoder,
a refresh calls Spotify: without a budget one client can keep the two cores busy for everyone.
The `limits` library keeps a moving window per (endpoint, client address) in this process's
memory; several API processes each keep their own budget. The client is the TCP peer address,
so behind a reverse proxy run uvicorn with `--proxy-headers` (or limit at the proxy).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimits:
    """One budget per named endpoint; a name without a rate is not limited."""

    def __init__(self, rates: Mapping[str, str | None]) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._rates: dict[str, RateLimitItem] = {
            name: parse(rate) for name, rate in rates.items() if rate
        }

    def retry_after(self, name: str, client: str) -> int | None:
        """Count one request; None if it is within budget, else the seconds until it would be."""
        rate = self._rates.get(name)
        if rate is None or self._limiter.hit(rate, name, client):
            return None
        reset = self._limiter.get_window_stats(rate, name, client).reset_time
        return max(1, math.ceil(reset - time.time()))

    def rate(self, name: str) -> str:
        return str(self._rates[name])
