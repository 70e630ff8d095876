"""UserKNN ("similar listeners"): the `neighbours` users whose holdings are most cosine-similar
to the history, each item scored by the summed similarity of the neighbours holding it. The
users × items matrix is the model (its rows are the neighbours)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
import scipy.sparse as sp

from core.cf.base import csr_arrays, csr_from


class UserKNN:
    def __init__(self, k: int = 50) -> None:
        self.neighbours = k
        self.users = sp.csr_matrix((0, 0), dtype=np.float32)
        self._norms = np.zeros(0, np.float32)

    def fit(self, x: sp.csr_matrix) -> Self:
        self._set(sp.csr_matrix(x, dtype=np.float32))
        return self

    def _set(self, users: sp.csr_matrix) -> None:
        users.data[:] = 1.0
        self.users = users
        self._norms = np.sqrt(np.diff(users.indptr)).astype(np.float32)

    def score(self, h: sp.csr_matrix) -> np.ndarray:
        h = sp.csr_matrix(h, dtype=np.float32)
        h.data[:] = 1.0
        out = np.zeros((h.shape[0], self.users.shape[1]), np.float32)
        overlap = np.asarray((self.users @ h.T).todense(), np.float32)  # users × histories
        for r in range(h.shape[0]):
            norm = np.sqrt(h.indptr[r + 1] - h.indptr[r])
            sim = overlap[:, r] / np.maximum(self._norms * norm, 1e-12)
            k = min(self.neighbours, int((sim > 0).sum()))
            if k == 0:
                continue
            best = np.argpartition(-sim, k - 1)[:k]
            out[r] = sim[best] @ self.users[best]
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "kind": np.array("userknn"),
            **csr_arrays(self.users, "x_"),
            "neighbours": np.array([self.neighbours]),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> UserKNN:
        model = cls(int(arrays["neighbours"][0]))
        model._set(csr_from(arrays, "x_"))
        return model
