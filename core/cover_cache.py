"""Where a cover image fetched by the indexer lives on disk, named by its URL.

Both sides need it: the indexer writes the cache, the API serves `/covers/{id}` from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PIL import Image

from schemas.settings import Settings


def cover_cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "covers"


def cache_path(cache_dir: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    # Fan out so a large catalog does not put every cover in one directory.
    return cache_dir / digest[:2] / digest


def cached_cover(cache_dir: Path, url: str) -> tuple[Path, str] | None:
    """The cached file for `url` and its image media type; None when it is not cached or the
    entry is damaged (a caller then falls back to the source)."""
    path = cache_path(cache_dir, url)
    if not path.is_file():
        return None
    try:
        with Image.open(path) as image:
            media_type = Image.MIME.get(image.format or "")
    except OSError:
        return None
    return (path, media_type) if media_type else None
