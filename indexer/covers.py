"""Covers in the indexing run: fetch album covers over HTTP into an on-disk cache, embed each
distinct cover once, and hand the pipeline one more encoder (album URL in, cover vector out).

A catalog lists the same ``album_url`` for every track of an album and real cover hosts fail
in every way (404, throttling, HTML error pages, truncated bodies, huge images), so the fetcher
de-duplicates, retries only what can succeed later (the shared policy of `core.retry`),
validates images before caching them and reports a specific reason per URL instead of raising.
The cache's file naming lives in `core.cover_cache` because the API serves from it too.
Local covers (the canonical ``file://`` URLs the catalog reader makes of a local ``album_url``,
`indexer.local_covers`) go through the same checks and the same cache, read from disk instead
of downloaded.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from core.cover_cache import cache_path, cover_cache_dir
from core.encoders.base import Encoder
from core.encoders.cover import build_cover_encoder, load_image
from core.files import atomic_write
from core.retry import TransientError, parse_retry_after, retrying
from indexer.local_covers import read_local_cover
from indexer.public_http import BlockedURLError, IPNetwork, check_url, public_client
from schemas.layout import COVER
from schemas.settings import Settings

log = logging.getLogger(__name__)

# Statuses worth another attempt: the server may answer differently in a moment.
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# Statuses that stay wrong for the rest of the run: not re-requested by later batches.
GONE_STATUSES = frozenset({404, 410})
# Some CDNs serve covers as generic binary; the decode check still rejects non-images.
ACCEPTED_NON_IMAGE_TYPES = frozenset({"application/octet-stream", "binary/octet-stream"})
MAX_BACKOFF = 30.0
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


@dataclass(frozen=True)
class CoverResult:
    url: str
    path: Path | None
    error: str | None
    from_cache: bool = False


class _FetchError(Exception):
    """A failure with its final per-URL message that another attempt would not fix."""


class CoverFetcher:
    """Thread pool over one httpx.Client: the callers (indexing batches) are synchronous.

    ``retries`` is the number of attempts per URL, the first included (1 = never retry).
    """

    def __init__(
        self,
        cache_dir: Path,
        *,
        max_concurrency: int = 8,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_bytes: int = 10_000_000,
        max_pixels: int = 40_000_000,
        allowed_networks: Iterable[str | IPNetwork] = (),
    ) -> None:
        """``allowed_networks``: private networks covers may come from after all (a private
        mirror; tests serving covers on 127.0.0.1). Every other non-public address is refused
        (see `indexer.public_http`)."""
        if max_concurrency < 1 or retries < 1:
            raise ValueError("max_concurrency and retries must be >= 1")
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.client = public_client(
            allowed_networks=[ipaddress.ip_network(n) for n in allowed_networks],
            timeout=timeout,
            max_connections=max_concurrency,
            headers={"User-Agent": "musicrec-cover-fetcher/0.1"},
        )
        # URLs that answered 404/410 in this run; never persisted (a cover may appear later).
        self._gone: dict[str, str] = {}
        self._gone_lock = threading.Lock()

    def __enter__(self) -> CoverFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def cache_path(self, url: str) -> Path:
        return cache_path(self.cache_dir, url)

    def fetch_many(self, urls: Iterable[str]) -> dict[str, CoverResult]:
        """One result per distinct URL; each URL is requested at most once per call."""
        results: dict[str, CoverResult] = {}
        to_fetch: list[str] = []
        for url in dict.fromkeys(urls):
            path = self.cache_path(url)
            if path.is_file():
                results[url] = CoverResult(url, path, None, from_cache=True)
            elif url in self._gone:
                results[url] = CoverResult(url, None, self._gone[url])
            else:
                to_fetch.append(url)
        if to_fetch:
            workers = min(self.max_concurrency, len(to_fetch))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cover") as pool:
                for result in pool.map(self._fetch_one, to_fetch):
                    results[result.url] = result
        failed = sum(result.error is not None for result in results.values())
        if failed:
            log.info("covers: %d of %d URLs failed", failed, len(results))
        return results

    def _fetch_one(self, url: str) -> CoverResult:
        policy = retrying(first=self.backoff, cap=MAX_BACKOFF, attempts=self.retries)
        try:
            if url[:5].lower() == "file:":
                data = read_local_cover(url, self.max_bytes)
            else:
                data = policy(self._download, url)
            load_image(data, max_pixels=self.max_pixels)
        except TransientError as exc:
            return CoverResult(url, None, f"{exc} after {self.retries} attempts")
        except _FetchError as exc:
            return CoverResult(url, None, str(exc))
        except ValueError as exc:  # load_image: not a usable image; a local file refused
            return CoverResult(url, None, str(exc))
        except Exception as exc:  # one odd URL must not abort a whole indexing batch
            log.exception("cover %s: unexpected failure", url)
            return CoverResult(url, None, f"unexpected error ({type(exc).__name__}: {exc})")
        path = self.cache_path(url)
        atomic_write(path, data)
        return CoverResult(url, path, None)

    def _download(self, url: str) -> bytes:
        """The body of ``url``, redirects followed here (at most MAX_REDIRECTS), so that every
        hop's URL and connection pass the public-address checks."""
        deadline = time.monotonic() + self.timeout
        try:
            hop = httpx.URL(url)
            for _ in range(MAX_REDIRECTS + 1):
                check_url(hop)
                with self.client.stream("GET", hop, timeout=self.timeout) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location:
                        hop = response.url.join(location)
                        continue
                    return self._body(url, response, deadline)
            raise _FetchError(f"too many redirects (more than {MAX_REDIRECTS})")
        except BlockedURLError:
            # One message whatever was refused and wherever (no open/closed port oracle).
            raise _FetchError(str(BlockedURLError(hop))) from None
        except ValueError as exc:  # from check_url: "invalid URL (...)"
            raise _FetchError(str(exc)) from None
        except httpx.TimeoutException:
            raise TransientError("timeout") from None
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise TransientError(f"connection error ({type(exc).__name__})") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise _FetchError(f"invalid URL ({exc})") from None
        except httpx.HTTPError as exc:
            raise _FetchError(f"request failed ({type(exc).__name__}: {exc})") from None

    def _body(self, url: str, response: httpx.Response, deadline: float) -> bytes:
        status = response.status_code
        if status in RETRY_STATUSES:
            raise TransientError(
                f"HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status != 200:
            message = f"HTTP {status}"
            if status in GONE_STATUSES:
                with self._gone_lock:
                    self._gone[url] = message
            raise _FetchError(message)
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if not (
            content_type.lower().startswith("image/")
            or content_type.lower() in ACCEPTED_NON_IMAGE_TYPES
        ):
            raise _FetchError(f"not an image (content-type {content_type or 'missing'})")
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            raise _FetchError(f"response larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        received = 0
        for chunk in response.iter_bytes(CHUNK):
            received += len(chunk)
            if received > self.max_bytes:
                raise _FetchError(f"response larger than {self.max_bytes} bytes")
            # httpx's timeout is per read; this bounds a server trickling bytes.
            if time.monotonic() > deadline:
                raise TransientError("timeout")
            chunks.append(chunk)
        return b"".join(chunks)


def embed_covers(
    urls: Iterable[str],
    fetcher: CoverFetcher,
    encoder: Encoder[Image.Image],
    batch_size: int = 16,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Embeddings and errors keyed by URL, each distinct cover decoded and embedded once.

    Tracks of one album share the URL, so they share one vector. Images are decoded one
    encoder batch at a time to keep memory flat whatever the number of URLs.
    """
    fetched = fetcher.fetch_many(urls)
    errors = {url: result.error for url, result in fetched.items() if result.error is not None}
    ready: list[tuple[str, Path]] = [
        (url, result.path) for url, result in fetched.items() if result.path is not None
    ]
    embeddings: dict[str, np.ndarray] = {}
    for start in range(0, len(ready), batch_size):
        batch_urls: list[str] = []
        images: list[Image.Image] = []
        for url, path in ready[start : start + batch_size]:
            try:
                images.append(load_image(path.read_bytes(), max_pixels=fetcher.max_pixels))
                batch_urls.append(url)
            except (OSError, ValueError) as exc:
                # Validated before caching, so this is disk damage: drop it to refetch next run.
                path.unlink(missing_ok=True)
                errors[url] = f"cached cover unreadable ({exc})"
        for url, vector in zip(batch_urls, encoder.encode(images), strict=True):
            if vector is None:
                errors[url] = f"{encoder.encoder_id} produced no embedding"
            else:
                embeddings[url] = vector
    return embeddings, errors


class CoverUrlEncoder(Encoder[str]):
    """Covers as one more encoder of the indexing run, so the pipeline treats them like lyrics
    and audio (one `encode` per batch); each failed URL is reported through ``on_error``."""

    vector_name = COVER

    def __init__(
        self,
        fetcher: CoverFetcher,
        image_encoder: Encoder[Image.Image],
        *,
        batch_size: int = 16,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.image_encoder = image_encoder
        self.batch_size = batch_size
        self.on_error = on_error
        self.dim = image_encoder.dim
        self.encoder_id = image_encoder.encoder_id

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        urls = list(dict.fromkeys(u for u in items if u))
        if not urls:
            return [None] * len(items)
        vectors, errors = embed_covers(urls, self.fetcher, self.image_encoder, self.batch_size)
        if self.on_error:
            for url, reason in errors.items():
                self.on_error(url, reason)
        return [vectors.get(u) if u else None for u in items]

    def close(self) -> None:
        self.fetcher.close()


def build_cover_url_encoder(
    settings: Settings, on_error: Callable[[str, str], None] | None = None
) -> CoverUrlEncoder | None:
    """The cover encoder of an indexing run from the settings; None with MUSICREC_COVER_ENCODER
    =none."""
    image_encoder = build_cover_encoder(settings)
    if image_encoder is None:
        return None
    return CoverUrlEncoder(
        CoverFetcher(cover_cache_dir(settings), allowed_networks=settings.cover_allowed_networks),
        image_encoder,
        batch_size=settings.cover_batch_size,
        on_error=on_error,
    )
