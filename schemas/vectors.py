"""Vector values as they travel between encoders, the store and the API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseVector:
    """Term id → weight (BM25 term frequencies); only the non-zero entries."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, float]]) -> SparseVector:
        merged: dict[int, float] = {}
        for i, v in pairs:
            merged[int(i)] = merged.get(int(i), 0.0) + float(v)
        ordered = sorted(merged.items())
        return cls(tuple(i for i, _ in ordered), tuple(v for _, v in ordered))

    def as_dict(self) -> dict[int, float]:
        return dict(zip(self.indices, self.values, strict=True))

    def norm(self) -> float:
        return float(np.sqrt(sum(v * v for v in self.values)))

    def __bool__(self) -> bool:
        return bool(self.indices)


Vector = Sequence[float] | SparseVector


def mean_sparse(vectors: Sequence[SparseVector]) -> SparseVector:
    """The centroid of several documents' term weights: the sparse side of a seed query."""
    n = len(vectors)
    return SparseVector.from_pairs(
        (i, v / n) for vec in vectors for i, v in zip(vec.indices, vec.values, strict=True)
    )


def cosine(a: Vector, b: Vector) -> float:
    """Cosine in either representation, for the per-modality explanations."""
    if isinstance(a, SparseVector) and isinstance(b, SparseVector):
        da = a.as_dict()
        dot = sum(v * da.get(i, 0.0) for i, v in zip(b.indices, b.values, strict=True))
        return dot / max(a.norm() * b.norm(), 1e-12)
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    return float(x @ y / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12))
