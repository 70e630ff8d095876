"""A stored track, and its refresh from Spotify (a write: API key, rate-limited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from api.deps import ResourcesDep, StoredTrack
from api.security import TOO_MANY, WriteAccess, rate_limited
from core.spotify.client import CREDENTIALS_HINT, SpotifyClient
from core.tracks import refresh_track
from schemas.api import TrackOut

router = APIRouter(tags=["tracks"])


@router.get("/tracks/{track_id}", response_model=TrackOut, responses={404: {}})
def get_track(track: StoredTrack) -> TrackOut:
    """The track as stored (never changed by reading it: refreshing is `POST .../refresh`)."""
    return TrackOut.from_payload(track)


def configured_spotify(resources: ResourcesDep) -> SpotifyClient:
    if resources.spotify is None:
        # 409 (the server's state forbids it), not 503: retrying will not help until the
        # operator adds credentials.
        raise HTTPException(409, detail=f"Spotify is not configured: {CREDENTIALS_HINT}")
    return resources.spotify


@router.post(
    "/tracks/{track_id}/refresh",
    response_model=TrackOut,
    responses={401: {}, 403: {}, 404: {}, 409: {}, 502: {}, 503: {}, **TOO_MANY},
)
def refresh(
    _: WriteAccess,
    __: Annotated[None, rate_limited("refresh")],
    spotify: Annotated[SpotifyClient, Depends(configured_spotify)],
    track: StoredTrack,
    resources: ResourcesDep,
) -> TrackOut:
    """Fetch Spotify's metadata (cached for MUSICREC_SPOTIFY_CACHE_TTL) and store what changed
    in the track's payload. Spotify unreachable: 503 with Retry-After; refusing: 502."""
    return TrackOut.from_payload(refresh_track(spotify, resources.store, track))
