from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from api.deps import ResourcesDep
from schemas.api import TrackOut
from schemas.tracks import point_id

router = APIRouter(tags=["tracks"])


@router.get("/tracks/{track_id}", response_model=TrackOut, responses={404: {}})
def get_track(
    track_id: Annotated[str, Path(min_length=1, max_length=128)], resources: ResourcesDep
) -> TrackOut:
    found = resources.store.retrieve([point_id(track_id)])
    if not found:
        raise HTTPException(404, detail=f"track '{track_id}' not found")
    return TrackOut.from_payload(found[0].payload)
