"""The Spotify Web API (metadata enrichment; audio features are not served to new apps).
The unprefixed names spotipy and Spotify's own docs use are accepted too."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr

from schemas.settings.section import Section


class SpotifySettings(Section):
    spotify_client_id: str | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_SPOTIFY_CLIENT_ID",
            "SPOTIFY_CLIENT_ID",
            "SPOTIPY_CLIENT_ID",
            "spotify_client_id",
        ),
    )
    spotify_client_secret: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_SPOTIFY_CLIENT_SECRET",
            "SPOTIFY_CLIENT_SECRET",
            "SPOTIPY_CLIENT_SECRET",
            "spotify_client_secret",
        ),
    )
    spotify_api_url: str = Field(
        "https://api.spotify.com/v1/", description="Overridable for a local test double."
    )
    spotify_auth_url: str = "https://accounts.spotify.com/api/token"
    spotify_cache_ttl: float = Field(7 * 24 * 3600, ge=0, description="Seconds.")
    spotify_timeout: float = Field(10.0, gt=0, le=120)
    spotify_max_retry_seconds: float = Field(
        60.0, gt=0, description="Total time budget for retries of one call (429/5xx)."
    )

    @property
    def spotify_enabled(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)
