"""Covers as one more encoder of the indexing run: album URL in, cover vector out.

Fetching, caching and de-duplication live in `indexer.covers`; this adapter lets the pipeline
treat covers like lyrics and audio (one `encode` per batch), and reports each failed URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from core.encoders.base import Encoder
from indexer.covers import CoverFetcher, embed_covers
from schemas.layout import COVER


class CoverUrlEncoder(Encoder[str]):
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
