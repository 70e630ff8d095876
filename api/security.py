"""Who may call what, and how often: API-key checks and per-client rate limits.

Writes and admin calls need the key; reads only when configured so. The key is read through
FastAPI's security classes (`APIKeyHeader` for X-API-Key, `HTTPBearer` for
`Authorization: Bearer`), so /openapi.json declares both schemes on the operations that take
the key and Swagger UI's Authorize button sends it. Both are built with `auto_error=False`:
the answers stay ours (403 while no key is configured, 401 for a missing key, 403 for a wrong
one). The comparison is constant-time (hmac.compare_digest) so response timing does not leak
how much of a guessed key was right. No key configured means write endpoints are off, not open.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.deps import ResourcesDep

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="The key set in MUSICREC_API_KEY.",
    auto_error=False,
)
BEARER = HTTPBearer(
    scheme_name="Bearer",
    description="The same key as an `Authorization: Bearer` token.",
    auto_error=False,
)


def require_api_key(
    resources: ResourcesDep,
    header_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
) -> None:
    expected = resources.settings.api_key
    if expected is None:
        raise HTTPException(
            403, detail="write endpoints are disabled: set MUSICREC_API_KEY to enable them"
        )
    presented = header_key or (bearer.credentials.strip() if bearer else None)
    if not presented:
        raise HTTPException(
            401,
            detail="API key required (X-API-Key header or Authorization: Bearer)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(presented.encode(), expected.get_secret_value().encode()):
        raise HTTPException(403, detail="invalid API key")


#: On every write and admin operation.
WriteAccess = Annotated[None, Depends(require_api_key)]
#: On the read routers when MUSICREC_PROTECT_READS is set (see `create_app`): the schema then
#: shows the key on exactly the operations that need it.
ReadAccess = Depends(require_api_key)


#: Documented on every limited route (OpenAPI `responses`).
TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {"description": "Rate limit exceeded: retry after `Retry-After` seconds."}
}


def rate_limited(name: str) -> Any:
    """A route dependency charging one request to `name`'s budget for the calling client.

    The client is the connection's peer, or the address a trusted proxy put in
    X-Forwarded-For (uvicorn rewrites the peer only for MUSICREC_TRUSTED_PROXIES)."""

    def charge(request: Request, resources: ResourcesDep) -> None:
        limits = resources.rate_limits
        client = request.client.host if request.client else "unknown"
        wait = limits.retry_after(name, client)  # RateLimitStorageError: a 503 (api.errors)
        if wait is not None:
            raise HTTPException(
                429,
                detail=f"rate limit for {name} ({limits.rate(name)}) exceeded: retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    return Depends(charge)
