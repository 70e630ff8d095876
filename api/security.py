"""Who may call what, and how often: API-key checks and per-client rate limits.

Writes and admin calls need the key; reads only when configured so. The comparison is
constant-time (hmac.compare_digest) so response timing does not leak how much of a guessed key
was right. No key configured means write endpoints are off, not open.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from api.deps import ResourcesDep


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_api_key(request: Request, resources: ResourcesDep) -> None:
    expected = resources.settings.api_key
    if expected is None:
        raise HTTPException(
            403, detail="write endpoints are disabled: set MUSICREC_API_KEY to enable them"
        )
    presented = _presented_key(request)
    if presented is None:
        raise HTTPException(
            401,
            detail="API key required (X-API-Key header or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(presented.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, detail="invalid API key")


def require_read_access(request: Request, resources: ResourcesDep) -> None:
    if resources.settings.protect_reads:
        require_api_key(request, resources)


WriteAccess = Annotated[None, Depends(require_api_key)]
ReadAccess = Depends(require_read_access)


#: Documented on every limited route (OpenAPI `responses`).
TOO_MANY = {429: {"description": "Rate limit exceeded: retry after `Retry-After` seconds."}}


def rate_limited(name: str) -> Any:
    """A route dependency charging one request to `name`'s budget for the calling client."""

    def charge(request: Request, resources: ResourcesDep) -> None:
        limits = resources.rate_limits
        client = request.client.host if request.client else "unknown"
        wait = limits.retry_after(name, client)
        if wait is not None:
            raise HTTPException(
                429,
                detail=f"rate limit for {name} ({limits.rate(name)}) exceeded: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    return Depends(charge)
