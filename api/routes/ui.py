"""The web page (static files, no build step) and the cover images it shows.

The page is a plain client of the public REST API; the only route made for it is
`/covers/{track_id}`, so that it never hot-links a catalog URL it has not been vouched for.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse, Response
from PIL import Image

from api.deps import ResourcesDep
from api.security import ReadAccess
from core.cover_cache import cache_path, cover_cache_dir
from schemas.tracks import point_id

router = APIRouter(tags=["ui"])

STATIC = Path(__file__).resolve().parents[1] / "static"
# Served by name from this fixed set: nothing outside api/static/ is reachable.
ASSETS = {p.name: p for p in STATIC.iterdir() if p.is_file() and p.name != "index.html"}
# Covers may redirect to the catalog's image host, so images may come from any https origin
# (a plain-http cover is refused and the page shows its placeholder); scripts, styles and
# requests stay on this server.
CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
COVER_MAX_AGE = "public, max-age=86400"


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get("/ui/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise HTTPException(404, detail=f"no asset '{name}'")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    # Revalidated on each load (ETag), so an upgraded page never runs yesterday's script.
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get(
    "/covers/{track_id}",
    dependencies=[ReadAccess],
    response_class=Response,
    responses={
        200: {"content": {"image/*": {}}, "description": "The cover cached by the indexer."},
        307: {"description": "Not cached: redirect to the catalog's `album_url`."},
        404: {"description": "Unknown track, or a track without a cover URL."},
    },
)
def cover(
    track_id: Annotated[str, PathParam(min_length=1, max_length=128)], resources: ResourcesDep
) -> Response:
    """The album cover of a track: from the indexer's cache when it fetched one, else a
    redirect to the catalog URL (http/https only)."""
    found = resources.store.retrieve([point_id(track_id)])
    if not found:
        raise HTTPException(404, detail=f"track '{track_id}' not found")
    url = found[0].payload.get("album_url")
    if not url or urlsplit(url).scheme not in ("http", "https"):
        raise HTTPException(404, detail=f"track '{track_id}' has no cover")
    path = cache_path(cover_cache_dir(resources.settings), url)
    if path.is_file() and (media_type := _image_type(path)):
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": COVER_MAX_AGE})
    return RedirectResponse(url, status_code=307)


def _image_type(path: Path) -> str | None:
    """None for a damaged cache entry: the browser then tries the source instead."""
    try:
        with Image.open(path) as image:
            return Image.MIME.get(image.format or "")
    except OSError:
        return None
