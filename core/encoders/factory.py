"""Settings → the configured encoders, so the indexer and the API build them the same way."""

from __future__ import annotations

from core.encoders.lyrics import LyricsEncoder
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
