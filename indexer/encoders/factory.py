"""Settings → the configured encoders, so the indexer and the API build them the same way."""

from __future__ import annotations

from collections.abc import Callable

from indexer.encoders.base import Encoder
from indexer.encoders.lyrics import LyricsEncoder
from schemas.settings import Settings


def build_lyrics_encoder(settings: Settings) -> LyricsEncoder:
    return LyricsEncoder(
        settings.lyrics_model,
        batch_size=settings.lyrics_batch_size,
        max_seq_length=settings.lyrics_max_seq_length,
        device=settings.device,
        runtime=settings.lyrics_runtime,
        onnx_cache=settings.data_dir / "onnx",
    )


def build_index_encoders(
    settings: Settings, on_cover_error: Callable[[str, str], None] | None = None
) -> list[Encoder]:
    """The model-backed encoders of an indexing run (audio comes from the stored scaler)."""
    from indexer.cover_vectors import CoverUrlEncoder, cover_cache_dir
    from indexer.covers import CoverFetcher
    from indexer.encoders.cover import build_cover_encoder
    from indexer.encoders.lyrics_terms import LyricsTermsEncoder

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
