from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, UploadFile

from api import responses
from api.deps import FiltersDep, ResourcesDep, SearcherDep
from core.encoders.cover import load_image
from schemas.api import SearchResponse

router = APIRouter(tags=["search"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1000)]
UPLOAD_TRANSPORT_LIMIT = 64 * 1024 * 1024
Weight = Annotated[float | None, Query(ge=0, le=100)]


@router.get("/search", response_model=SearchResponse, responses={400: {}, 409: {}})
def search(
    searcher: SearcherDep,
    filters: FiltersDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="Free text.")],
    modality: Literal["lyrics", "cover"] = "lyrics",
    limit: Limit = 10,
    offset: Offset = 0,
    lyrics_weight: Weight = None,
    terms_weight: Weight = None,
) -> SearchResponse:
    """Free text → the nearest tracks by lyrics, or by cover (needs the CLIP cover encoder).

    Lyrics search fuses the dense embedding with BM25 term matching (`lyrics_terms`); the two
    weights turn either up, down or off (0).
    """
    weights = {
        name: w
        for name, w in (("lyrics", lyrics_weight), ("lyrics_terms", terms_weight))
        if w is not None
    }
    return responses.search(
        searcher.search_text(
            q, modality=modality, limit=limit, offset=offset, filters=filters, weights=weights
        )
    )


@router.post(
    "/search/cover",
    response_model=SearchResponse,
    responses={400: {}, 409: {}, 413: {}},
    # The route's own cap (MUSICREC_MAX_UPLOAD_BYTES) applies below this transport limit.
    max_body_size=UPLOAD_TRANSPORT_LIMIT,
)
def search_cover(
    image: UploadFile,
    resources: ResourcesDep,
    searcher: SearcherDep,
    filters: FiltersDep,
    limit: Limit = 10,
    offset: Offset = 0,
) -> SearchResponse:
    """Tracks whose album covers look like the uploaded image."""
    cap = resources.settings.max_upload_bytes
    data = image.file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(413, detail=f"image larger than {cap} bytes")
    try:
        picture = load_image(data, max_pixels=resources.settings.max_image_pixels)
    except ValueError as exc:
        raise HTTPException(400, detail=f"image: {exc}") from None
    return responses.search(
        searcher.search_image(
            picture, label=image.filename or "upload", limit=limit, offset=offset, filters=filters
        )
    )
