"""RP3β (Paudel et al., "Updatable, accurate, diverse, and scalable recommendations for
interactive applications", TiiS 2016): the 3-step random walk item → user → item with the
transition probabilities raised to α, each target divided by its popularity^β (β > 0 lifts
the long tail), `topk` neighbours kept per item. Sparse throughout: the item × item product is
computed in blocks of rows and pruned as it goes, so its memory follows the neighbourhoods,
not items²."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import numpy as np
import scipy.sparse as sp

from core.cf.base import csr_arrays, csr_from, top_k_per_row

BLOCK = 2048  # item rows per block of the walk


class RP3Beta:
    def __init__(self, alpha: float = 1.0, beta: float = 0.5, top_k: int = 200) -> None:
        self.alpha = alpha
        self.beta = beta
        self.top_k = top_k
        self.weights = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, x: sp.csr_matrix) -> Self:
        x = sp.csr_matrix(x, dtype=np.float32)
        x.data[:] = 1.0
        user_degree = np.asarray(x.sum(axis=1)).ravel()
        item_degree = np.asarray(x.sum(axis=0)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(user_degree, 1.0)) @ x
        p_iu = sp.csr_matrix(sp.diags(1.0 / np.maximum(item_degree, 1.0)) @ x.T.tocsr())
        p_ui.data **= self.alpha
        p_iu.data **= self.alpha
        penalty = sp.diags(np.power(np.maximum(item_degree, 1.0), -self.beta).astype(np.float32))
        blocks = []
        for start in range(0, x.shape[1], BLOCK):
            walk = (p_iu[start : start + BLOCK] @ p_ui @ penalty).tocoo()
            off_diagonal = walk.row + start != walk.col  # an item is not its own neighbour
            walk = sp.csr_matrix(
                (walk.data[off_diagonal], (walk.row[off_diagonal], walk.col[off_diagonal])),
                shape=walk.shape,
            )
            blocks.append(top_k_per_row(walk, self.top_k))
        self.weights = sp.csr_matrix(sp.vstack(blocks), dtype=np.float32)
        return self

    def score(self, h: sp.csr_matrix) -> np.ndarray:
        return np.asarray((sp.csr_matrix(h, dtype=np.float32) @ self.weights).todense())

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"kind": np.array("rp3beta"), **csr_arrays(self.weights, "w_")}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RP3Beta:
        model = cls()
        model.weights = csr_from(arrays, "w_")
        if model.weights.shape[0] != model.weights.shape[1]:
            raise ValueError(f"RP3beta weights are {model.weights.shape}, not square")
        return model
