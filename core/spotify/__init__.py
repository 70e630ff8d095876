"""Spotify Web API metadata (spotipy): retries, rate limits and an on-disk cache.

spotipy and diskcache are the `spotify` extra: `core.spotify.client` (which imports them) is
loaded only when credentials are configured, so serving and indexing run without them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core.spotify.errors import CREDENTIALS_HINT, SpotifyError, SpotifyUnavailableError
from schemas.settings import Settings

if TYPE_CHECKING:
    from core.spotify.client import SpotifyClient

__all__ = [
    "CREDENTIALS_HINT",
    "SpotifyError",
    "SpotifyUnavailableError",
    "build_spotify_client",
]

log = logging.getLogger(__name__)


def build_spotify_client(settings: Settings) -> SpotifyClient | None:
    """None without credentials: Spotify is optional, everything else keeps working."""
    if not settings.spotify_enabled:
        log.warning("Spotify metadata is off: %s", CREDENTIALS_HINT)
        return None
    assert settings.spotify_client_id and settings.spotify_client_secret
    try:
        from core.spotify.client import SpotifyClient
    except ImportError as exc:
        raise RuntimeError(
            f"Spotify credentials are set but its client is not installed ({exc}): "
            "pip install 'musicrec[spotify]'"
        ) from exc
    return SpotifyClient(
        client_id=settings.spotify_client_id,
        client_secret=settings.spotify_client_secret.get_secret_value(),
        cache_dir=settings.data_dir / "spotify-objects",
        api_url=settings.spotify_api_url,
        auth_url=settings.spotify_auth_url,
        cache_ttl=settings.spotify_cache_ttl,
        timeout=settings.spotify_timeout,
        max_retry_seconds=settings.spotify_max_retry_seconds,
    )
