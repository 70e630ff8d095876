"""Free-text and image search: each request runs an encoder, hence the per-client limits.

The cover upload has its own router so that the app can give it its own body cap
(MUSICREC_MAX_UPLOAD_BYTES plus the multipart framing), checked on Content-Length before any
byte is read, instead of the JSON routes' cap.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, UploadFile

from api import responses
from api.deps import FiltersDep, ResourcesDep, SearcherDep
from api.errors import RETRY_AFTER_SECONDS
from api.security import TOO_MANY, rate_limited
from core.encoders.cover import load_image
from schemas.api import SearchResponse

router = APIRouter(tags=["search"])
upload_router = APIRouter(tags=["search"])

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1000)]
Weight = Annotated[float | None, Query(ge=0, le=100)]
#: How long an upload waits for a decode slot (MUSICREC_MAX_CONCURRENT_UPLOADS) before a 503.
UPLOAD_WAIT_SECONDS = 10.0


@router.get(
    "/search",
    response_model=SearchResponse,
    responses={400: {}, 409: {}, **TOO_MANY},
    dependencies=[rate_limited("search")],
)
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


@upload_router.post(
    "/search/cover",
    response_model=SearchResponse,
    responses={400: {}, 409: {}, 413: {}, 503: {}, **TOO_MANY},
    dependencies=[rate_limited("cover search")],
)
def search_cover(
    image: UploadFile,
    resources: ResourcesDep,
    searcher: SearcherDep,
    filters: FiltersDep,
    limit: Limit = 10,
    offset: Offset = 0,
) -> SearchResponse:
    """Tracks whose album covers look like the uploaded image (decoded reduced: a JPEG at
    the scale that fits MUSICREC_MAX_UPLOAD_DECODED_PIXELS, anything larger refused)."""
    settings = resources.settings
    cap = settings.max_upload_bytes
    data = image.file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(413, detail=f"image larger than {cap} bytes")
    if not resources.upload_slots.acquire(timeout=UPLOAD_WAIT_SECONDS):
        raise HTTPException(
            503,
            detail="too many cover uploads being decoded; retry shortly",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    try:
        picture = load_image(
            data,
            max_pixels=settings.max_image_pixels,
            max_decoded_pixels=settings.max_upload_decoded_pixels,
        )
    except ValueError as exc:
        raise HTTPException(400, detail=f"image: {exc}") from None
    finally:
        resources.upload_slots.release()
    return responses.search(
        searcher.search_image(
            picture, label=image.filename or "upload", limit=limit, offset=offset, filters=filters
        )
    )
