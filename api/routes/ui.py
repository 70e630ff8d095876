"""The web app (the React build in web/dist) and the cover images it shows.

The app is a plain client of the public REST API; the only route made for it is
`/covers/{track_id}`, so that it never hot-links a catalog URL it has not been vouched for.
Its build is served by Starlette's `StaticFiles` under /ui (nothing outside the build
directory is reachable), revalidated on each load (ETag) so an upgraded app never runs
yesterday's script. Without a build, `/` says how to make one instead of failing.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from api.deps import ResourcesDep, StoredTrack
from api.security import ReadAccess
from core.cover_cache import cached_cover, cover_cache_dir
from schemas.settings import Settings

router = APIRouter(tags=["ui"])

#: The build `npm run build` writes in web/ (MUSICREC_WEB_DIST overrides it).
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
BUILD_HINT = "cd web && npm ci && npm run build"
# Everything, covers included (served from the indexer's cache), comes from this server.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
COVER_MAX_AGE = "public, max-age=86400"


def web_dist(settings: Settings) -> Path:
    return settings.web_dist or WEB_DIST


class Assets(StaticFiles):
    """`StaticFiles` with the page's headers on every file it serves; without a build every
    file is a 404 (Starlette would answer 500 for the missing directory)."""

    async def check_config(self) -> None:
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()

    def file_response(self, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def]
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def assets(settings: Settings) -> Assets:
    """Mounted at /ui by the app (a router cannot carry a mount); a missing build directory
    is not an error at start-up: its files are 404s and `/` says how to build it."""
    return Assets(directory=web_dist(settings), check_dir=False)


def not_built(dist: Path) -> HTMLResponse:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>musicrec: web app not built"
        "</title><h1>The web app is not built</h1>"
        f"<p>No build at <code>{escape(str(dist))}</code>. Build it once with Node.js 20 or "
        f"newer: <code>{BUILD_HINT}</code> (or <code>bash scripts/setup.sh</code>), then reload."
        "</p><p>The REST API works without it: <a href=/docs>/docs</a>.</p></html>"
    )
    return HTMLResponse(body, status_code=503, headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False, response_model=None)
def page(resources: ResourcesDep) -> FileResponse | HTMLResponse:
    index = web_dist(resources.settings) / "index.html"
    if not index.is_file():
        return not_built(index.parent)
    return FileResponse(index, media_type="text/html", headers=PAGE_HEADERS)


@router.get(
    "/covers/{track_id}",
    dependencies=[ReadAccess],
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
    addresses included); the page shows a placeholder for a 404. A local cover (file://) is
    served from the cache too: the API never opens a path a catalog named."""
    url = track.get("album_url")
    if not url or urlsplit(url).scheme not in ("http", "https", "file"):
        raise HTTPException(404, detail=f"track '{track['track_id']}' has no cover")
    cached = cached_cover(cover_cache_dir(resources.settings), url)
    if cached is None:
        raise HTTPException(404, detail=f"the cover of track '{track['track_id']}' is not cached")
    path, media_type = cached
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": COVER_MAX_AGE})
