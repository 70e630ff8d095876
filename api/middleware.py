"""Pure ASGI middleware (no body buffering, unlike Starlette's `BaseHTTPMiddleware`): the base
for HTTP-only wrappers, and the headers every response carries, whatever route (or error
handler) produced it — hand-written because Starlette ships no such middleware and a
dependency cannot reach the responses of error handlers, mounts and 404s.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    # A browser must not guess a type (an uploaded or cached file is never run as a script).
    "X-Content-Type-Options": "nosniff",
    # Track ids in our URLs stay here when the page loads a cover from a catalog host.
    "Referrer-Policy": "no-referrer",
}


class HttpMiddleware:
    """A pure ASGI middleware that sees HTTP requests only (lifespan and websocket messages
    pass untouched): subclasses implement `handle`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestsInFlight(HttpMiddleware):
    """Counts each HTTP request as being served, from its start to its last byte, for
    `core.store.priority.QueryPriority` (the background's engine queries wait for them); the
    app's resources hold it once the lifespan has built them."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = getattr(scope["app"].state, "resources", None)
        if resources is None:
            await self.app(scope, receive, send)
            return
        with resources.priority.serving():
            await self.app(scope, receive, send)


#: The interactive docs' pages. Their inline scripts are allowed by hash, computed from the
#: page itself, so the policy follows fastapi-offline's HTML without 'unsafe-inline' scripts.
DOCS_PAGES = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_policy(html: bytes) -> str:
    """Scripts from this server plus the page's own inline ones; Swagger UI and ReDoc set
    inline styles and ReDoc runs a worker from a blob, hence those two allowances."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ).replace("'self' ;", "'self';")


class DocsContentSecurityPolicy:
    """A Content-Security-Policy on /docs and /redoc (their HTML comes from fastapi-offline,
    which sets none). The page is a few hundred bytes: it is buffered to hash its scripts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in DOCS_PAGES:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if message.get("more_body"):
                    return
                assert start is not None
                headers = MutableHeaders(scope=start)
                headers["Content-Security-Policy"] = docs_policy(bytes(body))
                await send(start)
                await send({"type": "http.response.body", "body": bytes(body)})
                return
            await send(message)

        await self.app(scope, receive, buffer)
