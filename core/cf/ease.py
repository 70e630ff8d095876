"""EASE^R (Steck, "Embarrassingly shallow autoencoders", WWW 2019): the closed-form item-item
weights B = I − P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, zero diagonal; a history scores h·B.

The inverse is dense (n² floats): callers bound n (`ease_max_items`). The fitted B is pruned
to its `topk` largest weights per item, so the artefact and the per-request product are
sparse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
import scipy.sparse as sp

from core.cf.base import csr_arrays, csr_from, top_k_per_row


class EASE:
    def __init__(
        self, lam: float = 100.0, max_items: int | None = None, top_k: int | None = None
    ) -> None:
        self.lam = lam
        self.top_k = top_k
        self.weights = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, x: sp.csr_matrix) -> Self:
        x = sp.csr_matrix(x, dtype=np.float32)
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        p = np.linalg.inv(gram)
        del gram
        b = p / -np.diag(p)
        del p
        b[np.diag_indices_from(b)] = 0.0
        dense = sp.csr_matrix(b)
        del b
        self.weights = top_k_per_row(dense, self.top_k) if self.top_k else dense
        return self

    def score(self, h: sp.csr_matrix) -> np.ndarray:
        return np.asarray((sp.csr_matrix(h, dtype=np.float32) @ self.weights).todense())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"kind": np.array("ease"), **csr_arrays(self.weights, "b_")}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> EASE:
        model = cls()
        model.weights = csr_from(arrays, "b_")
        if model.weights.shape[0] != model.weights.shape[1]:
            raise ValueError(f"EASE weights are {model.weights.shape}, not square")
        return model
