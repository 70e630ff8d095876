from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import ResourcesDep
from core.spotify.client import (
    CREDENTIALS_HINT,
    SpotifyClient,
    SpotifyError,
    SpotifyUnavailableError,
)
from core.store import VectorStore
from schemas.api import TrackOut
from schemas.tracks import Track, point_id

router = APIRouter(tags=["tracks"])


@router.get(
    "/tracks/{track_id}", response_model=TrackOut, responses={404: {}, 409: {}, 502: {}, 503: {}}
)
def get_track(
    track_id: Annotated[str, Path(min_length=1, max_length=128)],
    resources: ResourcesDep,
    refresh: Annotated[
        bool,
        Query(
            description="Fetch Spotify's metadata (cached for MUSICREC_SPOTIFY_CACHE_TTL) and "
            "store what changed in the track's payload."
        ),
    ] = False,
) -> TrackOut:
    if refresh and resources.spotify is None:
        # 409 (the server's state forbids it), not 503: retrying will not help until the
        # operator adds credentials.
        raise HTTPException(409, detail=f"Spotify is not configured: {CREDENTIALS_HINT}")
    found = resources.store.retrieve([point_id(track_id)])
    if not found:
        raise HTTPException(404, detail=f"track '{track_id}' not found")
    payload = found[0].payload
    if refresh:
        assert resources.spotify is not None
        payload = _refreshed(resources.spotify, resources.store, track_id, payload)
    return TrackOut.from_payload(payload)


def _refreshed(client: SpotifyClient, store: VectorStore, track_id: str, payload: dict) -> dict:
    """The payload with Spotify's current metadata, written back only where it differs (vectors
    stay: a new cover reaches the cover vector when the enriched catalog is re-indexed)."""
    try:
        live = client.tracks([track_id])[track_id]
    except SpotifyUnavailableError as exc:
        raise HTTPException(
            503, detail=str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from exc
    except SpotifyError as exc:
        raise HTTPException(502, detail=str(exc)) from exc
    if live is None:
        return payload  # a catalog track Spotify does not know: the stored data is all there is
    metadata = client.track_metadata(live)
    fresh = Track(id=track_id, **metadata).payload()  # payload spelling (explicit as 0/1)
    changed = {k: fresh[k] for k in metadata if fresh[k] != payload.get(k)}
    if changed:
        store.set_payload([point_id(track_id)], changed)
    return {**payload, **changed}
