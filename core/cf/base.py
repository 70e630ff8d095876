"""The contract of the collaborative-filtering models: fitted on a users × items matrix,
scoring histories (rows over the same items) — so a listener the model never saw is scored
from what they hold — and saved as plain arrays (no pickle in an artefact)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, Self

import numpy as np
import scipy.sparse as sp


class ItemScorer(Protocol):
    def fit(self, x: sp.csr_matrix) -> Self:
        """Learn from `x` (users × items, nonzero = held)."""
        ...

    def score(self, h: sp.csr_matrix) -> np.ndarray:
        """(histories, items) scores, higher is better; the history's own items included."""
        ...

    def to_arrays(self) -> dict[str, np.ndarray]: ...


def csr_arrays(m: sp.csr_matrix, prefix: str) -> dict[str, np.ndarray]:
    m = sp.csr_matrix(m)
    return {
        f"{prefix}data": m.data.astype(np.float32),
        f"{prefix}indices": m.indices,
        f"{prefix}indptr": m.indptr,
        f"{prefix}shape": np.array(m.shape, np.int64),
    }


def csr_from(arrays: Mapping[str, np.ndarray], prefix: str) -> sp.csr_matrix:
    """The matrix `csr_arrays` saved; ValueError when its parts do not make one."""
    shape = tuple(int(v) for v in arrays[f"{prefix}shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]),
        shape=shape,
    )


def top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the `k` largest values of each row (a neighbourhood per item)."""
    m = sp.csr_matrix(m)
    lengths = np.diff(m.indptr)
    keep = np.ones(m.nnz, dtype=bool)
    for row in np.flatnonzero(lengths > k):
        start, end = m.indptr[row], m.indptr[row + 1]
        drop = np.argpartition(m.data[start:end], -k)[:-k]
        keep[start + drop] = False
    rows = np.repeat(np.arange(m.shape[0]), lengths)
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)
