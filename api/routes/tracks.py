"""A stored track, and its refresh from Spotify (a write: API key, rate-limited)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from api.deps import ResourcesDep, StoredTrack
from api.security import TOO_MANY, rate_limited, require_api_key
from core.spotify import CREDENTIALS_HINT
from core.tracks import refresh_track
from schemas.api import TrackOut

router = APIRouter(tags=["tracks"])


@router.get("/tracks/{track_id}", response_model=TrackOut, responses={404: {}})
def get_track(track: StoredTrack) -> TrackOut:
    """The track as stored (never changed by reading it: refreshing is `POST .../refresh`)."""
    return TrackOut.from_payload(track)


def require_spotify(resources: ResourcesDep) -> None:
    if resources.spotify is None:
        # 409 (the server's state forbids it), not 503: retrying will not help until the
        # operator adds credentials.
        raise HTTPException(409, detail=f"Spotify is not configured: {CREDENTIALS_HINT}")


@router.post(
    "/tracks/{track_id}/refresh",
    response_model=TrackOut,
    responses={401: {}, 403: {}, 404: {}, 409: {}, 502: {}, 503: {}, **TOO_MANY},
    # In this order: the key, then the budget, then Spotify's configuration, then the track.
    dependencies=[Depends(require_api_key), rate_limited("refresh"), Depends(require_spotify)],
)
def refresh(track: StoredTrack, resources: ResourcesDep) -> TrackOut:
    """Fetch Spotify's metadata (cached for MUSICREC_SPOTIFY_CACHE_TTL) and store what changed
    in the track's payload. Spotify unreachable: 503 with Retry-After; refusing: 502."""
    assert resources.spotify is not None  # require_spotify
    return TrackOut.from_payload(refresh_track(resources.spotify, resources.store, track))
