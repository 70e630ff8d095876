"""`musicrec-api` / `python -m api`: serve the API with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from api.main import create_app
from schemas.settings import load_settings


def main() -> None:
    settings = load_settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    base = f"http://{settings.api_host}:{settings.api_port}"
    print(f"musicrec API on {base}  (schema: {base}/openapi.json, health: /health)", flush=True)
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port)


if __name__ == "__main__":
    main()
