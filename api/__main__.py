"""`musicrec-api` / `python -m api`: serve the API with uvicorn."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

from api.main import create_app
from schemas.settings import Settings, load_settings


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy-header handling from MUSICREC_TRUSTED_PROXIES. uvicorn's own default
    trusts X-Forwarded-For from loopback, so any local client could pick its rate-limit
    budget; with no trusted proxy the headers are ignored and the TCP peer is the client."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    base = f"http://{settings.api_host}:{settings.api_port}"
    print(f"musicrec API on {base}  (schema: {base}/openapi.json, health: /health)", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        **proxy_options(settings),
    )


if __name__ == "__main__":
    main()
