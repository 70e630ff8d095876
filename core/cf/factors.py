"""Matrix factorisation from `implicit` (CPU): iALS (Hu, Koren & Volinsky 2008) and BPR
(Rendle et al. 2009), each folded in for histories it did not train on.

Only the item factors are kept (the artefact is items × factors): a history's user vector is
recomputed at query time, so a new listener is served like a trained one.
- iALS: implicit's own `recalculate_user`, the exact weighted least squares of a training
  step (confidence α on the history's items, regularization on the factors).
- BPR: BPR has no closed form for a user. The user vector is the direction of BPR's own
  gradient at u = 0 for the history's pairs (its items against all items):
  u = mean of the history's item vectors − mean item vector (0 for an empty history); scores
  V·u + item bias. A ridge regression of the history on V was tried first and ranks worse
  (the biases and the all-items zeros dominate it; tests/core/cf shows the structure kept).

Training holds BLAS to one thread (implicit's own advice: its solvers are threaded already)
and BPR to one SGD thread, so a seed gives the same model on every run.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from core.cf.base import ItemScorer, Params, array


class IALS(ItemScorer):
    kind = "ials"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 10.0,
        alpha: float = 10.0,
        iterations: int = 15,
        seed: int = 0,
        threads: int = 0,
    ) -> None:
        super().__init__()
        self.factors, self.regularization, self.alpha = factors, regularization, alpha
        self.iterations, self.seed, self.threads = iterations, seed, threads
        self.item_factors = np.zeros((0, factors), dtype=np.float32)
        self._gram: np.ndarray | None = None  # YᵀY + λI, for the fold-in

    @property
    def params(self) -> Params:
        return {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "seed": self.seed,
        }

    def _als(self) -> AlternatingLeastSquares:
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.threads,
            )

    def _fit(self, X: sp.csr_matrix) -> None:
        model = self._als()
        with threadpool_limits(1, "blas"):
            model.fit(X, show_progress=False)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._gram = None

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        """implicit's `recalculate_user` rule (confidence α on the history's items, 1
        elsewhere), solved here with YᵀY computed once per model: implicit recomputes it on
        every call (items × factors², 138 ms per history at 28k items × 128 factors)."""
        if self._gram is None:
            y = self.item_factors.astype(np.float64)
            self._gram = y.T @ y + self.regularization * np.eye(self.factors)
        out = np.zeros((H.shape[0], self.n_items), dtype=np.float32)
        for r in range(H.shape[0]):
            held = self.item_factors[H.indices[H.indptr[r] : H.indptr[r + 1]]].astype(np.float64)
            if len(held):
                a = self._gram + (self.alpha - 1.0) * held.T @ held
                user = np.linalg.solve(a, self.alpha * held.sum(axis=0))
                out[r] = self.item_factors @ user.astype(np.float32)
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors}

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        factors = array(arrays, "item_factors", ndim=2, shape=(self.n_items, self.factors))
        self.item_factors = np.ascontiguousarray(factors, dtype=np.float32)
        self._gram = None


class BPR(ItemScorer):
    kind = "bpr"

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.05,
        regularization: float = 0.01,
        iterations: int = 100,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.factors, self.learning_rate = factors, learning_rate
        self.regularization, self.iterations = regularization, iterations
        self.seed = seed
        self.item_factors = np.zeros((0, factors + 1), dtype=np.float32)  # last column: bias

    @property
    def params(self) -> Params:
        return {
            "factors": self.factors,
            "learning_rate": self.learning_rate,
            "regularization": self.regularization,
            "iterations": self.iterations,
            "seed": self.seed,
        }

    def _fit(self, X: sp.csr_matrix) -> None:
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.factors,
                learning_rate=self.learning_rate,
                regularization=self.regularization,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=1,
            )
            model.fit(X, show_progress=False)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        V = self.item_factors[:, :-1].astype(np.float64)
        lengths = np.asarray(H.sum(axis=1)).ravel()
        users = np.asarray(H @ V) / np.maximum(lengths, 1.0)[:, None] - V.mean(axis=0)
        users[lengths == 0] = 0.0
        return np.asarray(users @ V.T + self.item_factors[:, -1])

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors}

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        shape = (self.n_items, self.factors + 1)
        self.item_factors = np.ascontiguousarray(
            array(arrays, "item_factors", ndim=2, shape=shape), dtype=np.float32
        )
