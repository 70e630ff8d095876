"""The encoder contract every modality implements (lyrics, cover, audio).

An encoder may decline an input (empty lyrics, a broken image, missing audio features) by
returning None for it: the point is then stored without that named vector. A zero vector
would be wrong: under cosine distance it is undefined, and it would pull every track with a
missing modality together.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class Encoder(ABC, Generic[T]):
    #: The named vector this encoder fills (schemas.layout.LYRICS / COVER / AUDIO).
    vector_name: str
    #: Identifies model + weights; stored in the collection layout to refuse mixed vectors.
    encoder_id: str
    dim: int
    #: Sparse encoders return `schemas.vectors.SparseVector`s and have no fixed `dim`.
    sparse: bool = False

    @abstractmethod
    def encode(self, items: Sequence[T | None]) -> list[np.ndarray | None]:
        """One float32 vector of length `dim` per item, or None where the item has none."""

    def encode_text(self, text: str) -> np.ndarray:
        """Embed a free-text query into this modality's space (lyrics, CLIP covers)."""
        raise NotImplementedError(f"{self.encoder_id} cannot embed text queries")

    @property
    def supports_text(self) -> bool:
        return type(self).encode_text is not Encoder.encode_text


def l2_normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def resolve_device(name: str) -> str:
    """`auto` means the GPU when torch sees one: encoders then need no setting to use it."""
    if name != "auto":
        return name
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
