"""A stored track brought up to date with Spotify's metadata (`POST /tracks/{id}/refresh`).

Only the metadata fields that changed are written, into the payload; vectors stay (a new cover
reaches the cover vector when the enriched catalog is re-indexed). Spotify's errors
(`SpotifyError`, `SpotifyUnavailableError`) propagate for the caller to translate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.store import VectorStore
from schemas.tracks import Track, point_id

if TYPE_CHECKING:  # the `spotify` extra
    from core.spotify.client import SpotifyClient


def refresh_track(
    client: SpotifyClient, store: VectorStore, payload: dict[str, Any]
) -> dict[str, Any]:
    """The stored `payload` with Spotify's current metadata, changed fields written back."""
    track_id = payload["track_id"]
    live = client.tracks([track_id])[track_id]
    if live is None:
        return payload  # a catalog track Spotify does not know: the stored data is all there is
    metadata = client.track_metadata(live)
    fresh = Track(id=track_id, **metadata).payload()  # payload spelling (explicit as 0/1)
    changed = {k: fresh[k] for k in metadata if fresh[k] != payload.get(k)}
    if changed:
        store.set_payload([point_id(track_id)], changed)
    return {**payload, **changed}
