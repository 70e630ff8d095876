"""iALS (Hu, Koren, Volinsky 2008) by `implicit`: confidence 1 + α for a held item. Only the
item factors Y are kept; a history is folded in by the ALS user step,
u = (YᵀY + λI + α·Y_hᵀY_h)⁻¹ (1 + α)·Y_hᵀ1, and scores Y·u — so a listener the model never
saw is scored exactly as a trained one would be after one more step."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits


class IALS:
    def __init__(
        self,
        factors: int = 128,
        regularization: float = 10.0,
        alpha: float = 10.0,
        iterations: int = 15,
        seed: int = 0,
        threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.threads = threads
        self.seed = seed
        self.items = np.zeros((0, factors), np.float32)
        self._gram = np.zeros((factors, factors), np.float64)

    def fit(self, x: sp.csr_matrix) -> Self:
        als = AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            num_threads=self.threads,
            random_state=self.seed,
        )
        binary = sp.csr_matrix(x, dtype=np.float32)
        binary.data[:] = 1.0
        # implicit's own threads do the work; a threaded BLAS under them only contends (it
        # warns about it even inside the limit, so the warning is silenced too).
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "OpenBLAS is configured", RuntimeWarning)
            als.fit(binary, show_progress=False)
        self._set(np.asarray(als.item_factors, np.float32))
        return self

    def _set(self, items: np.ndarray) -> None:
        self.items = items
        self._gram = items.T.astype(np.float64) @ items

    def score(self, h: sp.csr_matrix) -> np.ndarray:
        h = sp.csr_matrix(h)
        out = np.zeros((h.shape[0], len(self.items)), np.float32)
        k = self.items.shape[1]
        for r in range(h.shape[0]):
            held = self.items[h.indices[h.indptr[r] : h.indptr[r + 1]]].astype(np.float64)
            if not len(held):
                continue
            a = self._gram + self.regularization * np.eye(k) + self.alpha * held.T @ held
            u = np.linalg.solve(a, (1.0 + self.alpha) * held.sum(axis=0))
            out[r] = self.items @ u.astype(np.float32)
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "kind": np.array("ials"),
            "items": self.items,
            "params": np.array([self.regularization, self.alpha], np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> IALS:
        items = np.asarray(arrays["items"], np.float32)
        if items.ndim != 2:
            raise ValueError(f"iALS item factors are {items.shape}, not a matrix")
        regularization, alpha = (float(v) for v in arrays["params"])
        model = cls(factors=items.shape[1], regularization=regularization, alpha=alpha)
        model._set(items)
        return model
