"""The HTTP service: where it listens, who may call what, limits and logs."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate
from pydantic import Field, SecretStr, field_validator

from schemas.settings.section import Section

#: Rate-limit storages: this process's memory, or a Redis every replica shares (a URL may
#: carry a password, hence a secret setting).
RATE_LIMIT_SCHEMES = ("memory", "redis", "rediss", "redis+unix", "redis+sentinel", "redis+cluster")

#: Shortest API key accepted: a short key can be guessed (16 url-safe characters ≈ 96 bits).
MIN_API_KEY_LENGTH = 16


class ApiSettings(Section):
    log_format: Literal["text", "json"] = Field(
        "text",
        description="API logs: text, or one JSON object per line with the request id "
        "(for a log collector in front of several replicas).",
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None,
        description="Key for write and admin endpoints (X-API-Key header or Bearer token), "
        "at least 16 characters; unset, those endpoints are disabled.",
    )
    web_dist: Path | None = Field(
        None,
        description="The web app's build (`npm run build` in web/); default: web/dist of this "
        "checkout. Without one, `/` says how to build it.",
    )
    protect_reads: bool = Field(False, description="Require the API key on read endpoints too.")
    cors_origins: list[str] = Field(
        default_factory=list, description='Allowed browser origins (JSON list, e.g. ["*"]).'
    )
    max_body_bytes: int = Field(1_000_000, ge=1000, description="JSON request bodies; 413 above.")
    max_upload_bytes: int = Field(5_000_000, ge=1000, description="POST /search/cover cap.")
    max_image_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest image (per its header) a cover may have."
    )
    max_concurrent_uploads: int = Field(
        4,
        ge=1,
        le=64,
        description="POST /search/cover: uploads decoded at once; others wait up to 10 s, "
        "then get 503 with Retry-After. With the decoded-pixel bound it caps the memory "
        "uploads can take together.",
    )
    max_upload_decoded_pixels: int = Field(
        4_000_000,
        ge=10_000,
        le=100_000_000,
        description="POST /search/cover: most pixels decoded per upload (JPEGs are decoded "
        "reduced to fit; a larger PNG/WebP is refused with 400). Bounds the memory per request.",
    )
    rate_limit_search: str | None = Field(
        "60/minute",
        description="GET /search per client address (`limits` notation, e.g. 30/minute; "
        "'off' to disable): each request runs the text encoder.",
    )
    rate_limit_cover_search: str | None = Field(
        "20/minute",
        description="POST /search/cover per client address: each request decodes an image "
        "and runs the cover encoder.",
    )
    rate_limit_refresh: str | None = Field(
        "30/minute", description="POST /tracks/{id}/refresh per client address (calls Spotify)."
    )
    rate_limit_storage: SecretStr = Field(
        SecretStr("memory://"),
        description="Where the budgets are counted: memory:// (per process) or a redis:// URL "
        "shared by every replica (else each replica grants the full budget).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description='Peers (addresses or networks, JSON list, e.g. ["172.28.0.0/24"]) whose '
        "X-Forwarded-For names the client; none by default: the TCP peer is the client.",
    )
    rate_limit_served_log: str | None = Field(
        "120/minute",
        description="Served lists logged for online evaluation per client address; above it "
        "the recommendations are still answered, without a request_id (nothing logged).",
    )

    @field_validator("api_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value()) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"the API key must have at least {MIN_API_KEY_LENGTH} characters; make one "
                "with `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )
        return key

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage(cls, uri: SecretStr) -> SecretStr:
        scheme = urlsplit(uri.get_secret_value()).scheme
        if scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError(f"the scheme must be one of {', '.join(RATE_LIMIT_SCHEMES)}")
        return uri

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        """Each entry an address or a network (uvicorn accepts both); '*' is refused: trusting
        every peer lets any client pick its own rate-limit budget."""
        for proxy in proxies:
            ipaddress.ip_network(proxy.strip(), strict=False)  # ValueError names the entry
        return [proxy.strip() for proxy in proxies]

    @field_validator(
        "rate_limit_search",
        "rate_limit_cover_search",
        "rate_limit_refresh",
        "rate_limit_served_log",
    )
    @classmethod
    def _rate(cls, rate: str | None) -> str | None:
        """'off' disables a limit (an empty variable means the default, see env_ignore_empty)."""
        if rate is None or rate.strip().lower() in ("off", "none"):
            return None
        parse_rate(rate)  # ValueError: "couldn't parse rate limit string '...'"
        return rate.strip()
