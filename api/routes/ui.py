"""The web page (static files, no build step) and the cover images it shows.

The page is a plain client of the public REST API; the only route made for it is
`/covers/{track_id}`, so that it never hot-links a catalog URL it has not been vouched for.
Its assets are served by Starlette's `StaticFiles` from api/static/ (nothing outside it is
reachable), revalidated on each load (ETag) so an upgraded page never runs yesterday's script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

from api.deps import ResourcesDep, StoredTrack
from core.cover_cache import cached_cover, cover_cache_dir

router = APIRouter(tags=["ui"])
#: The covers are data: the app includes this router with the read-access rule of the API.
covers = APIRouter(tags=["ui"])

STATIC = Path(__file__).resolve().parents[1] / "static"
# Everything, covers included (served from the indexer's cache), comes from this server.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
COVER_MAX_AGE = "public, max-age=86400"


class Assets(StaticFiles):
    """`StaticFiles` with the page's headers on every file it serves."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


#: Mounted at /ui by the app (a router cannot carry a mount).
assets = Assets(directory=STATIC)


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=PAGE_HEADERS)


@covers.get(
    "/covers/{track_id}",
    response_class=Response,
    responses={
        200: {"content": {"image/*": {}}, "description": "The cover cached by the indexer."},
        404: {
            "description": "Unknown track, a track without a cover URL, or a cover the "
            "indexer has not fetched (never a redirect: the catalog's URL is not vouched for)."
        },
    },
)
def cover(track: StoredTrack, resources: ResourcesDep) -> Response:
    """The album cover of a track, from the indexer's cache only. Redirecting to the catalog's
    URL instead would make this an open redirect to whatever a catalog names (internal
    addresses included); the page shows a placeholder for a 404."""
    url = track.get("album_url")
    if not url or urlsplit(url).scheme not in ("http", "https"):
        raise HTTPException(404, detail=f"track '{track['track_id']}' has no cover")
    cached = cached_cover(cover_cache_dir(resources.settings), url)
    if cached is None:
        raise HTTPException(404, detail=f"the cover of track '{track['track_id']}' is not cached")
    path, media_type = cached
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": COVER_MAX_AGE})
