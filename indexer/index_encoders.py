"""The encoders of an indexing run, built from the settings (audio comes from the stored scaler)."""

from __future__ import annotations

from collections.abc import Callable

from core.cover_cache import cover_cache_dir
from core.encoders.base import Encoder
from core.encoders.cover import build_cover_encoder
from core.encoders.factory import build_lyrics_encoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from indexer.cover_vectors import CoverUrlEncoder
from indexer.covers import CoverFetcher
from schemas.settings import Settings


def build_index_encoders(
    settings: Settings, on_cover_error: Callable[[str, str], None] | None = None
) -> list[Encoder]:
    """The model-backed encoders of an indexing run (audio comes from the stored scaler)."""
    encoders: list[Encoder] = [build_lyrics_encoder(settings), LyricsTermsEncoder()]
    image_encoder = build_cover_encoder(settings)
    if image_encoder is not None:
        encoders.append(
            CoverUrlEncoder(
                CoverFetcher(cover_cache_dir(settings)),
                image_encoder,
                batch_size=settings.cover_batch_size,
                on_error=on_cover_error,
            )
        )
    return encoders
