"""Cosine nearest neighbours, sparse top-k (the neighbourhood baselines of Dacrema et al.):

- ItemKNN: each item keeps its `top_k` most similar items,
  sim(i, j) = |U_i ∩ U_j| / (sqrt(|U_i| |U_j|) + shrink); scores = H · S.
- UserKNN: a history's `k` most similar training users by cosine, their rows weighted by the
  similarity; scores = Σ sim(h, u) X[u]. A history that is itself a training row finds itself
  first (similarity 1): its items are the history, which a caller excludes anyway.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from core.cf.base import (
    ItemScorer,
    ModelArraysError,
    Params,
    csr_arrays,
    csr_from,
    empty,
    item_graph,
)


class ItemKNN(ItemScorer):
    kind = "itemknn"

    def __init__(self, top_k: int = 200, shrink: float = 0.0) -> None:
        super().__init__()
        if top_k < 1 or shrink < 0:
            raise ValueError(f"top_k must be >= 1 and shrink >= 0, got {top_k}, {shrink}")
        self.top_k, self.shrink = top_k, float(shrink)
        self.S = empty(0, 0)

    @property
    def params(self) -> Params:
        return {"top_k": self.top_k, "shrink": self.shrink}

    def _fit(self, X: sp.csr_matrix) -> None:
        X = sp.csr_matrix(X, dtype=np.float64)
        norms = np.sqrt(np.asarray(X.sum(axis=0)).ravel())

        def weigh(rows: sp.csr_matrix, row_ids: np.ndarray) -> sp.csr_matrix:
            pairs = sp.coo_matrix(rows)
            denominator = norms[row_ids[pairs.row]] * norms[pairs.col] + self.shrink
            return sp.csr_matrix((pairs.data / denominator, (pairs.row, pairs.col)), pairs.shape)

        self.S = item_graph(X.T.tocsr(), X, self.top_k, weigh)

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        return np.asarray((H @ self.S).toarray())

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("S", self.S)

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.S = csr_from(arrays, "S", (self.n_items, self.n_items))


class UserKNN(ItemScorer):
    kind = "userknn"

    def __init__(self, k: int = 50) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k
        self.X = empty(0, 0)  # the training users with a positive

    @property
    def params(self) -> Params:
        return {"k": self.k}

    def _fit(self, X: sp.csr_matrix) -> None:
        self.X = sp.csr_matrix(X[np.flatnonzero(np.diff(X.indptr))], dtype=np.float32)

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        n_users = self.X.shape[0]
        if n_users == 0 or H.shape[0] == 0:
            return np.zeros((H.shape[0], self.n_items), dtype=np.float32)
        user_norms = np.sqrt(np.asarray(self.X.sum(axis=1)).ravel())
        history_norms = np.sqrt(np.asarray(H.sum(axis=1)).ravel())
        # X·Hᵀ, not H·Xᵀ: scipy would transpose all of X (every user's row) per request.
        sims = np.asarray((self.X @ sp.csr_matrix(H).T).toarray().T, dtype=np.float64)
        sims /= np.maximum(history_norms, 1.0)[:, None] * user_norms[None, :]
        k = min(self.k, n_users)
        nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        rows = np.repeat(np.arange(H.shape[0]), k)
        weights = sp.csr_matrix(
            (sims[rows, nearest.ravel()], (rows, nearest.ravel())), shape=sims.shape
        )
        return np.asarray((weights @ self.X).toarray())

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("X", self.X)

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.X = csr_from(arrays, "X", (None, self.n_items))
        if (np.diff(self.X.indptr) == 0).any() or (self.X.data <= 0).any():
            raise ModelArraysError("X: every stored user needs a positive")
