"""The one contract of the collaborative item scorers, and the plumbing they share.

    model = EASE(lam=100).fit(X)          # X: csr users × items, read as binary
    S = model.score(H)                    # H: csr n_histories × items -> (n_histories, items)
    arrays = model.to_arrays()            # plain arrays: np.savez, no pickle
    same = load_arrays(arrays)            # core.cf.registry: validated, equal scores

Histories are rows, not user ids, so a model answers for a user it never saw (a new listener,
a playlist held out of training) and the product and the evaluation call it the same way.
Everything is read as binary (a positive is a positive: the baselines of the literature are
defined that way). Loading validates every array (shape, dtype, finite, sparse structure) and
raises `ModelArraysError` naming the field: an artefact on disk is input, not trusted state.
Checked for every model by tests/core/cf/test_contract.py.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Self, cast

import numpy as np
import scipy.sparse as sp

Params = dict[str, int | float | None]


class ModelArraysError(ValueError):
    """Arrays that do not describe a model of this kind (missing, misshapen, non-finite)."""


class ItemScorer(ABC):
    """fit on a binary users × items matrix, then score histories given as rows."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self.n_items = 0  # 0 until fitted or loaded

    @property
    @abstractmethod
    def params(self) -> Params:
        """The hyper-parameters: keyword arguments of the constructor, stored in the arrays."""

    @abstractmethod
    def _fit(self, X: sp.csr_matrix) -> None: ...

    @abstractmethod
    def _score(self, H: sp.csr_matrix) -> np.ndarray: ...

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]: ...

    @abstractmethod
    def _load(self, arrays: Mapping[str, np.ndarray]) -> None: ...

    def fit(self, X: sp.csr_matrix | sp.csr_array) -> Self:
        X = binary(X)
        self.n_items = X.shape[1]
        self._fit(X)
        return self

    def score(self, H: sp.csr_matrix | sp.csr_array) -> np.ndarray:
        """(n_histories, n_items) float32 scores, higher is better; an empty row is finite."""
        if self.n_items == 0:
            raise RuntimeError(f"{self.kind}: score before fit")
        H = binary(H, self.n_items)
        scores = np.asarray(self._score(H), dtype=np.float32)
        if scores.shape != (H.shape[0], self.n_items):
            raise AssertionError(f"{self.kind}: scores of shape {scores.shape}")
        return scores

    def to_arrays(self) -> dict[str, np.ndarray]:
        if self.n_items == 0:
            raise RuntimeError(f"{self.kind}: to_arrays before fit")
        return {
            "kind": np.array(self.kind),
            "params": np.array(json.dumps(self.params, sort_keys=True)),
            "n_items": np.array(self.n_items, dtype=np.int64),
            **self._arrays(),
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Self:
        kind = text(arrays, "kind")
        if kind != cls.kind:
            raise ModelArraysError(f"kind: {kind!r}, expected {cls.kind!r}")
        try:
            params = json.loads(text(arrays, "params"))
            model = cls(**params)
        except (TypeError, ValueError) as exc:
            raise ModelArraysError(f"params of {cls.kind}: {exc}") from exc
        n_items = int(array(arrays, "n_items", ndim=0, kind="i"))
        if n_items < 1:
            raise ModelArraysError(f"n_items: {n_items}")
        model.n_items = n_items
        model._load(arrays)
        return model


def binary(X: object, n_items: int | None = None) -> sp.csr_matrix:
    """A float32 CSR copy with every stored positive set to 1 (zeros and duplicates folded)."""
    if not sp.issparse(X) or cast(Any, X).ndim != 2:
        raise TypeError(f"expected a 2-D scipy sparse matrix, got {type(X).__name__}")
    width = int(cast(Any, X).shape[1])
    if n_items is not None and width != n_items:
        raise ValueError(f"{width} item columns, the model has {n_items}")
    out: sp.csr_matrix = sp.csr_matrix(cast(Any, X), dtype=np.float32, copy=True)
    out.sum_duplicates()
    out.data = (out.data > 0).astype(np.float32)
    out.eliminate_zeros()
    return out


def top_k_per_row(M: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """M with only the k largest stored values of each row (ties: the lower column first)."""
    M = sp.csr_matrix(M)
    M.sort_indices()
    lengths = np.diff(M.indptr)
    if lengths.max(initial=0) <= k:
        return M
    keep = np.ones(M.nnz, dtype=bool)
    for row in np.flatnonzero(lengths > k):
        start, end = M.indptr[row], M.indptr[row + 1]
        order = np.argsort(-M.data[start:end], kind="stable")
        keep[start + order[k:]] = False
    rows = np.repeat(np.arange(M.shape[0]), lengths)[keep]
    return sp.csr_matrix((M.data[keep], (rows, M.indices[keep])), shape=M.shape)


def text(arrays: Mapping[str, np.ndarray], name: str) -> str:
    value = _get(arrays, name)
    if value.ndim != 0 or value.dtype.kind != "U":
        raise ModelArraysError(f"{name}: expected a string, got {value.dtype} {value.shape}")
    return str(value)


def array(
    arrays: Mapping[str, np.ndarray],
    name: str,
    *,
    ndim: int,
    kind: str = "f",
    shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """arrays[name], checked: its dimensions, dtype kind ('f' float, 'i' integer), the sizes
    given in `shape` (None: any) and, for floats, every value finite."""
    value = _get(arrays, name)
    if value.ndim != ndim or value.dtype.kind != kind:
        raise ModelArraysError(
            f"{name}: expected {ndim}-D of kind {kind!r}, got {value.dtype} {value.shape}"
        )
    wanted = shape or ()
    if any(w is not None and w != s for w, s in zip(wanted, value.shape, strict=False)):
        raise ModelArraysError(f"{name}: shape {value.shape}, expected {shape}")
    if kind == "f" and not np.isfinite(value).all():
        raise ModelArraysError(f"{name}: non-finite values")
    return value


def csr_arrays(name: str, M: sp.csr_matrix) -> dict[str, np.ndarray]:
    M = sp.csr_matrix(M)
    return {
        f"{name}_data": M.data.astype(np.float32),
        f"{name}_indices": M.indices.astype(np.int32),
        f"{name}_indptr": M.indptr.astype(np.int64),
        f"{name}_shape": np.array(M.shape, dtype=np.int64),
    }


def csr_from(
    arrays: Mapping[str, np.ndarray], name: str, shape: tuple[int | None, int | None]
) -> sp.csr_matrix:
    """The CSR matrix `csr_arrays` wrote, its structure checked before scipy sees it."""
    dims = array(arrays, f"{name}_shape", ndim=1, kind="i", shape=(2,))
    n_rows, n_cols = int(dims[0]), int(dims[1])
    if (shape[0] is not None and n_rows != shape[0]) or (
        shape[1] is not None and n_cols != shape[1]
    ):
        raise ModelArraysError(f"{name}: shape {(n_rows, n_cols)}, expected {shape}")
    data = array(arrays, f"{name}_data", ndim=1)
    indices = array(arrays, f"{name}_indices", ndim=1, kind="i", shape=(len(data),))
    indptr = array(arrays, f"{name}_indptr", ndim=1, kind="i", shape=(n_rows + 1,))
    if (
        indptr[0] != 0
        or indptr[-1] != len(data)
        or (np.diff(indptr) < 0).any()
        or (len(indices) and (indices.min() < 0 or indices.max() >= n_cols))
    ):
        raise ModelArraysError(f"{name}: inconsistent sparse structure")
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def _get(arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in arrays:
        raise ModelArraysError(f"{name}: missing")
    return np.asarray(arrays[name])


def item_graph(
    left: sp.csr_matrix,
    right: sp.csr_matrix,
    k: int,
    weigh: Callable[[sp.csr_matrix, np.ndarray], sp.csr_matrix],
    block: int = 2048,
) -> sp.csr_matrix:
    """The items × items product left · right, reweighed (`weigh(rows, row_ids)`), its diagonal
    dropped and pruned to the k largest per row, built `block` rows at a time so the full
    product (dense for popular items) never exists at once."""
    rows_of, columns_of = sp.csr_matrix(left), sp.csc_matrix(right)
    parts = []
    for start in range(0, rows_of.shape[0], block):
        rows = np.arange(start, min(start + block, rows_of.shape[0]))
        part = sp.coo_matrix(weigh(sp.csr_matrix(rows_of[rows] @ columns_of), rows))
        off_diagonal = part.row + start != part.col
        kept = sp.csr_matrix(
            (part.data[off_diagonal], (part.row[off_diagonal], part.col[off_diagonal])),
            shape=part.shape,
        )
        kept.eliminate_zeros()
        parts.append(top_k_per_row(kept, k))
    if not parts:
        return empty(0, columns_of.shape[1])
    return sp.csr_matrix(sp.vstack(parts), dtype=np.float32)


def empty(n_rows: int, n_cols: int) -> sp.csr_matrix:
    """An all-zero float32 CSR matrix (what an unfitted model holds)."""
    return sp.csr_matrix(np.zeros((n_rows, n_cols), dtype=np.float32))
