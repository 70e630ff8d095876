"""EASE^R (Steck, "Embarrassingly shallow autoencoders", WWW 2019): the item-item weights B
minimising ||X − XB||² + λ||B||² with diag(B) = 0, in closed form

    P = (XᵀX + λI)⁻¹,   B = I − P · diag(1 / diag(P)),   scores = H · B.

The inverse is n_items² floats, so two exact forms and one bound:
- primal (items ≤ users, or `top_k` set): P from the items × items Gram matrix; B kept
  dense, or pruned to its `top_k` largest weights per item (a sparse artefact, what serving
  at scale reads);
- dual (users < items and no `top_k`, e.g. 471 playlists over 28k tracks): by Woodbury,
  P = (I − Xᵀ K⁻¹ X) / λ with K = λI + XXᵀ (users × users), so H·B is computed from X and
  K⁻¹ without ever forming B;
- `max_items`: only the most-played items are modelled (ties: the lower index); the others,
  like items nobody played, score 0 (no evidence either way).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from core.cf.base import (
    ItemScorer,
    ModelArraysError,
    Params,
    array,
    csr_arrays,
    csr_from,
    text,
    top_k_per_row,
)


class EASE(ItemScorer):
    kind = "ease"

    def __init__(
        self, lam: float = 100.0, max_items: int | None = None, top_k: int | None = None
    ) -> None:
        super().__init__()
        if lam <= 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        if max_items is not None and max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        if top_k is not None and top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        self.lam, self.max_items, self.top_k = float(lam), max_items, top_k
        self.items = np.zeros(0, dtype=np.int64)  # the modelled item columns, ascending
        self.B: np.ndarray | sp.csr_matrix | None = None  # primal
        self.X: sp.csr_matrix | None = None  # dual: the training rows on `items`
        self.K_inv = np.zeros((0, 0))
        self.diag = np.zeros(0)  # dual: diag(P)

    @property
    def params(self) -> Params:
        return {"lam": self.lam, "max_items": self.max_items, "top_k": self.top_k}

    def _fit(self, X: sp.csr_matrix) -> None:
        counts = np.asarray(X.sum(axis=0)).ravel()
        played = np.flatnonzero(counts > 0)
        if self.max_items is not None and len(played) > self.max_items:
            order = np.argsort(-counts[played], kind="stable")
            played = np.sort(played[order[: self.max_items]])
        self.items = played.astype(np.int64)
        Xs = sp.csr_matrix(X[:, self.items], dtype=np.float64)
        Xs = Xs[np.flatnonzero(np.diff(Xs.indptr))]  # users with a modelled item
        if self.top_k is None and Xs.shape[0] < len(self.items):
            self._fit_dual(Xs)
        else:
            self._fit_primal(Xs)

    def _fit_primal(self, Xs: sp.csr_matrix) -> None:
        self.X = None
        gram = (Xs.T @ Xs).toarray()
        gram[np.diag_indices_from(gram)] += self.lam
        P = _spd_inverse(gram)
        B = P / -np.diag(P)
        np.fill_diagonal(B, 0.0)
        self.B = B.astype(np.float32)
        if self.top_k is not None:
            self.B = top_k_per_row(sp.csr_matrix(self.B), self.top_k)

    def _fit_dual(self, Xs: sp.csr_matrix) -> None:
        self.B = None
        K = (Xs @ Xs.T).toarray()
        K[np.diag_indices_from(K)] += self.lam
        self.K_inv = _spd_inverse(K)
        KX = np.asarray(Xs.T @ self.K_inv).T  # K⁻¹X, users × items
        self.diag = (1.0 - np.asarray(Xs.multiply(KX).sum(axis=0)).ravel()) / self.lam
        self.X = sp.csr_matrix(Xs, dtype=np.float32)

    def _score(self, H: sp.csr_matrix) -> np.ndarray:
        out = np.zeros((H.shape[0], self.n_items), dtype=np.float32)
        if not len(self.items):
            return out
        everything = len(self.items) == self.n_items  # no column copy (per request, at scale)
        Hs = sp.csr_matrix(H if everything else H[:, self.items], dtype=np.float64)
        if self.X is not None:
            # X·Hᵀ in X's own float32 (counts: exact), not a float64 copy of X per call.
            HXt = np.asarray((self.X @ sp.csr_matrix(Hs.T, dtype=np.float32)).toarray().T)
            dense = Hs.toarray()
            HP = (dense - np.asarray(self.X.T @ (HXt @ self.K_inv).T).T) / self.lam
            out[:, self.items] = dense - HP / self.diag
        else:
            assert self.B is not None
            product = Hs @ self.B
            out[:, self.items] = product.toarray() if sp.issparse(product) else product
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        if self.X is not None:
            layout = {**csr_arrays("X", self.X), "K_inv": self.K_inv, "diag": self.diag}
        elif isinstance(self.B, sp.csr_matrix):
            layout = csr_arrays("B", self.B)
        else:
            assert self.B is not None
            layout = {"B": self.B}
        return {"items": self.items, "layout": np.array(self._layout()), **layout}

    def _layout(self) -> str:
        if self.X is not None:
            return "dual"
        return "pruned" if isinstance(self.B, sp.csr_matrix) else "dense"

    def _load(self, arrays: Mapping[str, np.ndarray]) -> None:
        items = array(arrays, "items", ndim=1, kind="i")
        if len(items) and (
            items.min() < 0 or items.max() >= self.n_items or (np.diff(items) <= 0).any()
        ):
            raise ModelArraysError("items: not ascending item columns of the model")
        self.items = items.astype(np.int64)
        m = len(items)
        layout = text(arrays, "layout")
        if layout == "dual":
            self.X = csr_from(arrays, "X", (None, m))
            n_users = self.X.shape[0]
            self.K_inv = array(arrays, "K_inv", ndim=2, shape=(n_users, n_users))
            self.diag = array(arrays, "diag", ndim=1, shape=(m,))
            if (self.diag <= 0).any():
                raise ModelArraysError("diag: diag(P) of an SPD inverse must be > 0")
        elif layout == "pruned":
            self.B = csr_from(arrays, "B", (m, m))
        elif layout == "dense":
            self.B = array(arrays, "B", ndim=2, shape=(m, m))
        else:
            raise ModelArraysError(f"layout: {layout!r}, expected dual, pruned or dense")


def _spd_inverse(G: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix by Cholesky (half numpy's time)."""
    factor = scipy.linalg.cho_factor(G, overwrite_a=True, check_finite=False)
    inverse = scipy.linalg.cho_solve(factor, np.eye(len(G)), check_finite=False)
    return np.asarray(inverse)
