"""Spotify Web API metadata (covers, popularity, album, release date) for catalog tracks.

Since November 2024 Spotify serves new apps no audio features and no recommendations, so this
client only fetches metadata; audio features keep coming from the catalog file. Since February
2026 development-mode apps also lose the batched ``/tracks`` and ``/albums`` endpoints and the
``popularity`` field: the client falls back to one request per object when a batch is refused,
and missing fields simply stay missing.

spotipy does the HTTP and the client-credentials flow; retrying follows the project's one
policy (`core.retry`: honour ``Retry-After``, back off on 5xx, stop within a known time budget
with a clear error), and an expired token is refreshed once per call, none of which spotipy's
urllib3 retries do together. Every object is cached on disk (diskcache, with the TTL), so a
re-run over the same catalog makes no request at all.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import diskcache
import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError
from tenacity import RetryCallState

from core.retry import TransientError, parse_retry_after, retrying
from core.spotify.errors import CREDENTIALS_HINT, SpotifyError, SpotifyUnavailableError

__all__ = [
    "CREDENTIALS_HINT",
    "ObjectCache",
    "SpotifyClient",
    "SpotifyError",
    "SpotifyUnavailableError",
]

log = logging.getLogger(__name__)

# Spotify's documented maximum per request; search pages are 10 since the February 2026 limits.
TRACKS_PER_REQUEST = 50
SEARCH_PAGE = 10
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 8.0

_SPOTIFY_ID = re.compile(r"^[0-9A-Za-z]{22}$")
_MISSING = object()

T = TypeVar("T")


class ObjectCache:
    """Spotify objects by (kind, key) in a diskcache `Cache` (SQLite index, safe across threads
    and processes, entries expire after ``ttl`` seconds). A cached ``None`` is a hit: Spotify
    said the object does not exist."""

    def __init__(self, root: Path, ttl: float) -> None:
        self.root = root
        self.ttl = ttl
        self._cache = diskcache.Cache(str(root))

    def get(self, kind: str, key: str) -> tuple[bool, Any]:
        """(hit, value)."""
        value = self._cache.get((kind, key), default=_MISSING)
        return (False, None) if value is _MISSING else (True, value)

    def put(self, kind: str, key: str, value: Any) -> None:
        self._cache.set((kind, key), value, expire=self.ttl)

    def close(self) -> None:
        self._cache.close()


class _CountingSession(requests.Session):
    """A plain session (no urllib3 retry adapter: retries are ours) that counts requests, so a
    run can report how many it made, and a cached re-run can show it made none."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.count += 1
        return super().request(*args, **kwargs)


class SpotifyClient:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        cache_dir: Path,
        api_url: str = "https://api.spotify.com/v1/",
        auth_url: str = "https://accounts.spotify.com/api/token",
        cache_ttl: float = 7 * 24 * 3600,
        timeout: float = 10.0,
        max_retry_seconds: float = 60.0,
    ) -> None:
        self._session = _CountingSession()
        self._tokens = MemoryCacheHandler()  # spotipy's default writes a .cache file in the cwd
        auth = SpotifyClientCredentials(
            client_id,
            client_secret,
            requests_session=self._session,
            requests_timeout=timeout,
            cache_handler=self._tokens,
        )
        auth.OAUTH_TOKEN_URL = auth_url  # spotipy reads the token URL from the instance
        self._sp = spotipy.Spotify(
            auth_manager=auth, requests_session=self._session, requests_timeout=timeout
        )
        self._sp.prefix = api_url if api_url.endswith("/") else api_url + "/"
        self.cache = ObjectCache(cache_dir, cache_ttl)
        self.max_retry_seconds = max_retry_seconds
        self._unbatched: set[str] = set()  # kinds whose batch endpoint this app may not use

    @property
    def http_requests(self) -> int:
        """HTTP requests made so far (token requests and retries included)."""
        return self._session.count

    # --- objects by id --------------------------------------------------------------------
    def tracks(self, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        """Track objects by id, ``None`` for ids Spotify does not know (or that are not ids)."""
        return self._objects("track", ids)

    def _objects(self, kind: str, ids: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict[str, Any] | None] = {}
        to_fetch: list[str] = []
        for object_id in wanted:
            if not _SPOTIFY_ID.match(object_id):
                found[object_id] = None  # a catalog's own id: asking would only earn a 400
                continue
            hit, value = self.cache.get(kind, object_id)
            if hit:
                found[object_id] = value
            else:
                to_fetch.append(object_id)
        for start in range(0, len(to_fetch), TRACKS_PER_REQUEST):
            batch = to_fetch[start : start + TRACKS_PER_REQUEST]
            for object_id, obj in zip(batch, self._fetch(kind, batch), strict=True):
                found[object_id] = self._remember(kind, object_id, obj)
        return {object_id: found[object_id] for object_id in wanted}

    def _fetch(self, kind: str, batch: list[str]) -> list[dict | None]:
        if kind not in self._unbatched:
            try:
                page = self._call(f"{len(batch)} {kind}s", getattr(self._sp, f"{kind}s"), batch)
                return page[f"{kind}s"]
            except SpotifyError as exc:
                if exc.status != 403:
                    raise
                log.warning(
                    "Spotify refuses batched /%ss for this app (development mode since February "
                    "2026): fetching one %s per request",
                    kind,
                    kind,
                )
                self._unbatched.add(kind)
        return [self._fetch_one(kind, object_id) for object_id in batch]

    def _fetch_one(self, kind: str, object_id: str) -> dict[str, Any] | None:
        try:
            return self._call(f"{kind} {object_id}", getattr(self._sp, kind), object_id)
        except SpotifyError as exc:
            if exc.status in (400, 404):
                return None
            raise

    def _remember(
        self, kind: str, object_id: str, obj: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        obj = _slim(obj)
        self.cache.put(kind, object_id, obj)
        return obj

    # --- lists of track ids ---------------------------------------------------------------
    def playlist_track_ids(self, playlist_id: str) -> list[str]:
        """Every track id of a playlist, in order (local files and episodes left out)."""
        hit, cached = self.cache.get("playlist", playlist_id)
        if hit:
            return cached
        ids: list[str] = []
        page = self._call(
            f"playlist {playlist_id}",
            self._sp.playlist_items,
            playlist_id,
            additional_types=("track",),
        )
        while page:
            # The /items endpoint (February 2026) names the entry `item`; /tracks named it `track`.
            ids.extend(
                self._remember_tracks(e.get("item") or e.get("track") for e in page["items"])
            )
            page = self._call(f"playlist {playlist_id}", self._sp.next, page)
        self.cache.put("playlist", playlist_id, ids)
        return ids

    def search_track_ids(self, query: str, limit: int = 50) -> list[str]:
        """Ids of the first `limit` tracks Spotify's search ranks for `query`."""
        key = f"{query}\n{limit}"
        hit, cached = self.cache.get("search", key)
        if hit:
            return cached
        ids: list[str] = []
        offset = 0
        while offset < limit:
            page = self._call(
                f"search {query!r}",
                self._sp.search,
                query,
                limit=min(SEARCH_PAGE, limit - offset),
                offset=offset,
                type="track",
            )["tracks"]
            ids.extend(self._remember_tracks(page["items"]))
            offset += len(page["items"])
            if not page.get("next") or not page["items"]:
                break
        ids = list(dict.fromkeys(ids))[:limit]
        self.cache.put("search", key, ids)
        return ids

    def _remember_tracks(self, items: Iterable[dict | None]) -> Iterator[str]:
        """Playlists and searches return full track objects: cache them, saving the lookups."""
        for item in items:
            if item and item.get("id") and item.get("type", "track") == "track":
                self._remember("track", item["id"], item)
                yield item["id"]

    # --- mapping ----------------------------------------------------------------------------
    @staticmethod
    def track_metadata(track: dict[str, Any]) -> dict[str, Any]:
        """The `Track` fields a track object gives, leaving out the ones Spotify did not send
        (so a caller filling gaps or updating a payload never writes an empty value)."""
        album = track.get("album") or {}
        images = [i for i in album.get("images") or [] if i.get("url")]
        cover = max(
            images, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0), default=None
        )
        release = album.get("release_date") or None
        fields = {
            "name": track.get("name") or None,
            "artists": [a["name"] for a in track.get("artists") or [] if a.get("name")] or None,
            "album_name": album.get("name") or None,
            "album_url": cover["url"] if cover else None,
            "popularity": track.get("popularity"),
            "explicit": track.get("explicit"),
            "release_date": release,
            "year": int(release[:4]) if release and release[:4].isdigit() else None,
        }
        return {k: v for k, v in fields.items() if v is not None}

    # --- retries ----------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` under the shared retry policy, within the retry budget."""
        refreshed = False

        def attempt() -> T:
            nonlocal refreshed
            try:
                try:
                    return fn(*args, **kwargs)
                except spotipy.SpotifyException as exc:
                    if exc.http_status != 401 or refreshed:
                        raise
                    refreshed = True
                    self._tokens.save_token_to_cache(None)  # the next call fetches a new token
                    return fn(*args, **kwargs)
            except spotipy.SpotifyException as exc:
                status = exc.http_status
                if status != 429 and status < 500:
                    raise SpotifyError(
                        f"Spotify refused {what}: HTTP {status}: {exc.msg}", status=status
                    ) from exc
                hinted = parse_retry_after((exc.headers or {}).get("Retry-After"))
                raise TransientError(
                    f"HTTP {status}", retry_after=hinted if status == 429 else None
                ) from exc
            except SpotifyOauthError as exc:
                if exc.error == "invalid_client":
                    raise SpotifyError(
                        f"Spotify refused the client credentials ({exc}); check "
                        "SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET",
                        status=400,
                    ) from exc
                # spotipy hides the token endpoint's status: retry
                raise TransientError(f"token request failed: {exc}") from exc
            except requests.RequestException as exc:
                raise TransientError(f"{type(exc).__name__}: {exc}") from exc

        def give_up(state: RetryCallState) -> NoReturn:
            assert state.outcome is not None
            raise SpotifyUnavailableError(
                f"Spotify unavailable for {what}: {state.outcome.exception()} after "
                f"{state.attempt_number} attempt(s) in {state.seconds_since_start:.1f}s; the "
                f"next retry would exceed the retry budget of {self.max_retry_seconds:g}s "
                "(MUSICREC_SPOTIFY_MAX_RETRY_SECONDS)",
                retry_after=math.ceil(state.upcoming_sleep),
            ) from state.outcome.exception()

        policy = retrying(
            first=BACKOFF_FIRST,
            cap=BACKOFF_MAX,
            budget=self.max_retry_seconds,
            on_give_up=give_up,
        )
        return policy(attempt)


def _slim(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """Drop the market lists (half of a track object's bytes, and useless here) before caching."""
    if obj is None:
        return None
    obj = {k: v for k, v in obj.items() if k != "available_markets"}
    if isinstance(obj.get("album"), dict):
        obj["album"] = {k: v for k, v in obj["album"].items() if k != "available_markets"}
    return obj
