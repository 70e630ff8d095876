"""Each model against a direct numpy formula on a tiny random matrix: the closed forms, the
walk, the neighbours, and that the factor models are implicit's own."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from implicit.cpu.bpr import BayesianPersonalizedRanking

from core.cf import BPR, EASE, IALS, ItemKNN, RP3Beta, UserKNN


def random_binary(users: int, items: int, seed: int, density: float = 0.3) -> np.ndarray:
    dense = (np.random.default_rng(seed).random((users, items)) < density).astype(np.float64)
    dense[0, :] = 0.0  # an empty user
    dense[:, 1] = 0.0  # an item nobody played
    return dense


def top_k_rows(W: np.ndarray, k: int) -> np.ndarray:
    """The k largest entries of each row kept (ties: lower column), zeros dropped."""
    out = np.zeros_like(W)
    for i, row in enumerate(W):
        nonzero = np.flatnonzero(row)
        best = nonzero[np.argsort(-row[nonzero], kind="stable")[:k]]
        out[i, best] = row[best]
    return out


def ease_B(X: np.ndarray, lam: float) -> np.ndarray:
    P = np.linalg.inv(X.T @ X + lam * np.eye(X.shape[1]))
    return np.eye(X.shape[1]) - P / np.diag(P)


HISTORIES = random_binary(6, 25, seed=9, density=0.25)


@pytest.mark.parametrize("users", [12, 60])  # fewer users than items: dual; more: primal
def test_ease_is_the_closed_form(users: int) -> None:
    X = random_binary(users, 25, seed=1)
    model = EASE(lam=7.0).fit(sp.csr_matrix(X))
    assert str(model.to_arrays()["layout"]) == ("dual" if users < 25 else "dense")
    np.testing.assert_allclose(
        model.score(sp.csr_matrix(HISTORIES)), HISTORIES @ ease_B(X, 7.0), atol=2e-5
    )


def test_ease_pruned_keeps_the_top_k_weights_of_each_item() -> None:
    """Tie-aware: items played by the same users have equal weights in exact arithmetic, and
    which of two tied weights is the larger after rounding depends on the BLAS (this test
    compared against one fixed choice and failed on another machine's CPU)."""
    X = random_binary(12, 25, seed=2)
    model = EASE(lam=3.0, top_k=4).fit(sp.csr_matrix(X))
    played = np.flatnonzero(X.sum(axis=0))
    B = ease_B(X[:, played], 3.0)
    np.fill_diagonal(B, 0.0)
    assert model.B is not None and sp.issparse(model.B)
    kept = model.B.toarray()
    for exact, weights in zip(B, kept, strict=True):
        stored = np.sort(exact[exact != 0])
        columns = np.flatnonzero(weights)
        assert len(columns) == min(4, len(stored))
        np.testing.assert_allclose(weights[columns], exact[columns], atol=2e-5)  # B's own
        assert weights[columns].min() >= stored[-len(columns)] - 2e-5  # and its largest
    expected = np.zeros((len(HISTORIES), 25))
    expected[:, played] = HISTORIES[:, played] @ kept
    np.testing.assert_allclose(model.score(sp.csr_matrix(HISTORIES)), expected, atol=2e-5)


def test_ease_most_played_models_those_items_only() -> None:
    X = random_binary(40, 25, seed=3)
    counts = X.sum(axis=0)
    kept = np.sort(np.argsort(-counts, kind="stable")[:10])
    model = EASE(lam=5.0, max_items=10).fit(sp.csr_matrix(X))
    expected = np.zeros((len(HISTORIES), 25))
    expected[:, kept] = HISTORIES[:, kept] @ ease_B(X[:, kept], 5.0)
    np.testing.assert_allclose(model.score(sp.csr_matrix(HISTORIES)), expected, atol=2e-5)


def test_rp3beta_is_the_walk_divided_by_popularity() -> None:
    X = random_binary(30, 25, seed=4)
    alpha, beta, k = 0.7, 0.4, 6
    item_deg, user_deg = X.sum(axis=0), X.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_user = np.nan_to_num(X.T / item_deg[:, None]) ** alpha  # item → user
        to_item = np.nan_to_num(X / user_deg[:, None]) ** alpha  # user → item
        arrival = np.where(item_deg > 0, item_deg, np.inf) ** -beta
    W = (to_user @ to_item) * arrival[None, :]
    np.fill_diagonal(W, 0.0)
    model = RP3Beta(alpha=alpha, beta=beta, top_k=k).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(
        model.score(sp.csr_matrix(HISTORIES)), HISTORIES @ top_k_rows(W, k), atol=1e-5
    )


def test_itemknn_is_shrunk_cosine_top_k() -> None:
    X = random_binary(30, 25, seed=5)
    norms = np.sqrt(X.sum(axis=0))
    S = (X.T @ X) / (norms[:, None] * norms[None, :] + 2.0)
    np.fill_diagonal(S, 0.0)
    model = ItemKNN(top_k=5, shrink=2.0).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(
        model.score(sp.csr_matrix(HISTORIES)), HISTORIES @ top_k_rows(S, 5), atol=1e-5
    )


def test_userknn_weights_the_k_nearest_users_by_cosine() -> None:
    X = random_binary(30, 25, seed=6)
    X = X[X.sum(axis=1) > 0]
    sims = (HISTORIES @ X.T) / (
        np.maximum(np.sqrt(HISTORIES.sum(axis=1)), 1.0)[:, None] * np.sqrt(X.sum(axis=1))[None]
    )
    expected = np.zeros((len(HISTORIES), 25))
    for r, row in enumerate(sims):
        nearest = np.argsort(-row, kind="stable")[:4]
        expected[r] = row[nearest] @ X[nearest]
    model = UserKNN(k=4).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(model.score(sp.csr_matrix(HISTORIES)), expected, atol=1e-5)


def test_ials_is_implicit_and_folds_in_by_weighted_least_squares() -> None:
    X = random_binary(30, 25, seed=7)
    ours = IALS(factors=6, regularization=2.0, alpha=4.0, iterations=5, seed=11)
    ours.fit(sp.csr_matrix(X))
    theirs = AlternatingLeastSquares(
        factors=6, regularization=2.0, alpha=4.0, iterations=5, random_state=11
    )
    theirs.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
    np.testing.assert_allclose(ours.item_factors, theirs.item_factors, rtol=1e-5, atol=1e-6)
    Y = ours.item_factors.astype(np.float64)
    expected = []
    for h in HISTORIES:  # confidence α on the history's items, 1 elsewhere (implicit's rule)
        Yh = Y[h > 0]
        A = Y.T @ Y + 2.0 * np.eye(6) + (4.0 - 1.0) * Yh.T @ Yh
        expected.append(np.linalg.solve(A, 4.0 * Yh.sum(axis=0)) @ Y.T)
    np.testing.assert_allclose(
        ours.score(sp.csr_matrix(HISTORIES)), np.array(expected), rtol=1e-3, atol=1e-4
    )


def test_bpr_is_implicit_and_folds_in_along_the_gradient_direction() -> None:
    X = random_binary(30, 25, seed=8)
    ours = BPR(factors=6, learning_rate=0.05, regularization=0.01, iterations=20, seed=11)
    ours.fit(sp.csr_matrix(X))
    theirs = BayesianPersonalizedRanking(
        factors=6,
        learning_rate=0.05,
        regularization=0.01,
        iterations=20,
        random_state=11,
        num_threads=1,
    )
    theirs.fit(sp.csr_matrix(X, dtype=np.float32), show_progress=False)
    np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)
    V, bias = ours.item_factors[:, :-1].astype(np.float64), ours.item_factors[:, -1]
    expected = []
    for h in HISTORIES:
        u = V[h > 0].mean(axis=0) - V.mean(axis=0) if h.any() else np.zeros(6)
        expected.append(V @ u + bias)
    np.testing.assert_allclose(
        ours.score(sp.csr_matrix(HISTORIES)), np.array(expected), rtol=1e-5, atol=1e-5
    )
