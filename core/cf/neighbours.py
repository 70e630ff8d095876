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
        self._set(empty(0, 0))  # the training users with a positive

    @property
    def params(self) -> Params:
        return {"k": self.k}

    def _fit(self, X: sp.csr_matrix) -> None:
        self._set(sp.csr_matrix(X[np.flatnonzero(np.diff(X.indptr))], dtype=np.float32))

    def _set(self, X: sp.csr_matrix) -> None:
        """X and what every request reads from it: per track its users (so a history finds
        the users who share one of its tracks through its own rows; X·Hᵀ scanned every
        user's row, 12 ms of a request at 20,000 users) and the users' norms."""
        self.X = X
        self._by_track = sp.csr_matrix(X.T)
        self._user_norms = np.sqrt(np.asarray(X.sum(axis=1)).ravel())

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        n_users = self.X.shape[0]
        if n_users == 0 or H.shape[0] == 0:
            return np.zeros((H.shape[0], self.n_items), dtype=np.float32)
        history_norms = np.sqrt(np.asarray(H.sum(axis=1)).ravel())
        shared = sp.csr_matrix(H @ self._by_track)  # histories × users: tracks in common
        rows, users, sims = [], [], []
        for r in range(H.shape[0]):
            span = slice(shared.indptr[r], shared.indptr[r + 1])
            who = shared.indices[span]
            sim = shared.data[span].astype(np.float64) / (
                np.maximum(history_norms[r], 1.0) * self._user_norms[who]
            )
            # The k most similar users sharing a track (a user sharing none weighs 0), ties
            # by user order.
            best = np.lexsort((who, -sim))[: self.k]
            rows.append(np.full(len(best), r))
            users.append(who[best])
            sims.append(sim[best])
        weights = sp.csr_matrix(
            (np.concatenate(sims), (np.concatenate(rows), np.concatenate(users))),
            shape=(H.shape[0], n_users),
        )
        return np.asarray((weights @ self.X).toarray())

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("X", self.X)

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        X = csr_from(arrays, "X", (None, self.n_items))
        if (np.diff(X.indptr) == 0).any() or (X.data <= 0).any():
            raise ModelArraysError("X: every stored user needs a positive")
        self._set(X)
