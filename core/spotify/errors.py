"""What Spotify's failures are, importable without spotipy (the `spotify` extra): the API
translates them to HTTP whether or not the client is installed."""

from __future__ import annotations

CREDENTIALS_HINT = (
    "set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET (a client-credentials app from "
    "https://developer.spotify.com/dashboard)"
)


class SpotifyError(RuntimeError):
    """Spotify answered with something retrying will not fix (bad credentials, bad id, 4xx)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SpotifyUnavailableError(SpotifyError):
    """Still failing (429, 5xx, connection) when the retry budget ran out: try again later."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
