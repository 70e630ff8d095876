"""A track as the catalog reader produces it and as it is stored in Qdrant's payload."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from typing import Any

from pydantic import BaseModel, Field

# The Kaggle "Spotify Songs with Attributes and Lyrics" columns, in that file's order, then the
# optional ones musicrec also reads. Writers of catalogs (demo sample, Spotify enrichment) use it.
KAGGLE_AUDIO_COLUMNS: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
)
KAGGLE_COLUMNS: tuple[str, ...] = (
    "id",
    "name",
    "album_name",
    "artists",
    *KAGGLE_AUDIO_COLUMNS,
    "lyrics",
    "popularity",
    "year",
    "genre",
    "explicit",
    "release_date",
    "album_url",
)

# Fixed namespace: point ids must be the same on every machine and every run, so
# re-indexing a track overwrites its point instead of adding a twin.
TRACK_NAMESPACE = uuid.UUID("6d1f3c52-2b0e-4f5e-9a57-5f0b8f0f6a11")


@functools.lru_cache(maxsize=1 << 18)
def point_id(track_id: str) -> str:
    """The track's point id (UUID5). Cached, bounded: a personalised request maps hundreds of
    candidates, and a SHA-1 per candidate per request showed in its profile."""
    return str(uuid.uuid5(TRACK_NAMESPACE, track_id))


class TrackMetadata(BaseModel):
    """The fields a track shows to the world: the catalog's `Track` adds what is encoded
    (lyrics, audio), the API's `schemas.api.TrackOut` what the payload says about them."""

    id: str = Field(min_length=1, description="Spotify track id (or the catalog's own id).")
    name: str = ""
    artists: list[str] = Field(default_factory=list)
    album_name: str | None = None
    album_url: str | None = None
    popularity: int | None = None
    year: int | None = None
    genre: str | None = None
    explicit: bool | None = None
    release_date: str | None = None


class Track(TrackMetadata):
    lyrics: str | None = None
    audio: dict[str, float] | None = Field(
        None, description="Raw audio features by name (schemas.layout.AUDIO_CATALOG_FEATURES)."
    )

    def payload(self) -> dict[str, Any]:
        """What is stored beside the vectors: everything but the lyrics text (size, copyright)."""
        data = self.model_dump(exclude={"lyrics", "id"}, exclude_none=True)
        data["track_id"] = self.id
        data["has_lyrics"] = bool(self.lyrics and self.lyrics.strip())
        if self.explicit is not None:
            data["explicit"] = int(self.explicit)  # see schemas.layout.PAYLOAD_INDEXES
        return data

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Track:
        """The one way back from a stored payload (`explicit` is stored as 0/1)."""
        fields = {k: v for k, v in payload.items() if k in cls.model_fields and k != "id"}
        if "explicit" in fields:
            fields["explicit"] = bool(fields["explicit"])
        return cls(id=payload["track_id"], **fields)

    def content_hash(self, encoder_ids: dict[str, str]) -> str:
        """Changes when anything that shapes the point changes, so unchanged rows are skipped."""
        blob = json.dumps(
            [self.model_dump(mode="json"), sorted(encoder_ids.items())],
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]
