"""RP3β (Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for
interactive applications", TiiS 2017; tuned as in Dacrema et al. 2019): the three-step walk
item → user → item on the bipartite graph, each transition probability raised to α, the
arrival item's weight divided by its popularity^β (β > 0 lifts the long tail), each item's
`top_k` largest weights kept:

    W[i, j] = Σ_u (X[u,i] / deg(i))^α · (X[u,j] / deg(u))^α / deg(j)^β,   scores = H · W.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from core.cf.base import ItemScorer, Params, csr_arrays, csr_from, empty, item_graph


class RP3Beta(ItemScorer):
    kind = "rp3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, top_k: int = 200) -> None:
        super().__init__()
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.alpha, self.beta, self.top_k = float(alpha), float(beta), top_k
        self.W = empty(0, 0)

    @property
    def params(self) -> Params:
        return {"alpha": self.alpha, "beta": self.beta, "top_k": self.top_k}

    def _fit(self, X: sp.csr_matrix) -> None:
        X = sp.csr_matrix(X, dtype=np.float64)
        item_degree = np.asarray(X.sum(axis=0)).ravel()
        user_degree = np.asarray(X.sum(axis=1)).ravel()
        to_item = sp.diags(_safe_power(user_degree, -1.0)) @ X  # P(user → item)
        to_user = sp.csr_matrix(sp.diags(_safe_power(item_degree, -1.0)) @ X.T.tocsr())
        to_item.data **= self.alpha
        to_user.data **= self.alpha
        arrival = _safe_power(item_degree, -self.beta)

        def weigh(rows: sp.csr_matrix, _: np.ndarray) -> sp.csr_matrix:
            return sp.csr_matrix(rows @ sp.diags(arrival))

        self.W = item_graph(to_user, sp.csr_matrix(to_item), self.top_k, weigh)

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        return np.asarray((H @ self.W).toarray())

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays("W", self.W)

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.W = csr_from(arrays, "W", (self.n_items, self.n_items))


def _safe_power(values: np.ndarray, exponent: float) -> np.ndarray:
    """values ** exponent where values > 0, else 0 (an item nobody played is never reached)."""
    out = np.zeros_like(values, dtype=np.float64)
    positive = values > 0
    out[positive] = values[positive] ** exponent
    return out
