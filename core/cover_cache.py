"""Where a cover image fetched by the indexer lives on disk, named by its URL.

Both sides need it: the indexer writes the cache, the API serves `/covers/{id}` from it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from schemas.settings import Settings


def cover_cache_dir(settings: Settings) -> Path:
    return settings.data_dir / "covers"


def cache_path(cache_dir: Path, url: str) -> Path:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    # Fan out so a large catalog does not put every cover in one directory.
    return cache_dir / digest[:2] / digest
