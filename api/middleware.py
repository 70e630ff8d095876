"""Pure ASGI middleware (no body buffering, unlike Starlette's `BaseHTTPMiddleware`): the base
for HTTP-only wrappers, and the headers every response carries, whatever route (or error
handler) produced it — hand-written because Starlette ships no such middleware and a
dependency cannot reach the responses of error handlers, mounts and 404s.
"""

from __future__ import annotations

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
