"""The ItemScorer contract, run against EVERY collaborative model of core/cf (like implicit's
recommender_base_test mixin): shapes, finiteness, structure learned from a block-diagonal
matrix, fold-in of histories never trained on, the array round trip through a real .npz
without pickle, determinism for a seed, and the checks on hostile arrays."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from core.cf import (
    BPR,
    EASE,
    IALS,
    MODELS,
    ItemKNN,
    ItemScorer,
    ModelArraysError,
    RP3Beta,
    UserKNN,
    load_arrays,
)

BLOCKS, USERS_PER_BLOCK, ITEMS_PER_BLOCK = 2, 12, 15
N_ITEMS = BLOCKS * ITEMS_PER_BLOCK

FACTORIES: dict[str, Callable[[], ItemScorer]] = {
    "ease dual": lambda: EASE(lam=5.0),
    "ease primal pruned": lambda: EASE(lam=5.0, top_k=6),
    "ease most-played": lambda: EASE(lam=5.0, max_items=20),
    "ials": lambda: IALS(factors=8, regularization=5.0, alpha=5.0, iterations=15, seed=3),
    "bpr": lambda: BPR(factors=8, learning_rate=0.05, iterations=100, seed=3),
    "rp3beta": lambda: RP3Beta(alpha=0.8, beta=0.3, top_k=8),
    "itemknn": lambda: ItemKNN(top_k=8, shrink=1.0),
    "userknn": lambda: UserKNN(k=4),
}


def block_matrix(seed: int = 0) -> sp.csr_matrix:
    """Users of block b hold about 70% of block b's items and nothing else."""
    rng = np.random.default_rng(seed)
    dense = np.zeros((BLOCKS * USERS_PER_BLOCK, N_ITEMS), dtype=np.float32)
    for b in range(BLOCKS):
        users = slice(b * USERS_PER_BLOCK, (b + 1) * USERS_PER_BLOCK)
        items = slice(b * ITEMS_PER_BLOCK, (b + 1) * ITEMS_PER_BLOCK)
        dense[users, items] = rng.random((USERS_PER_BLOCK, ITEMS_PER_BLOCK)) < 0.7
    return sp.csr_matrix(dense)


def histories(rows: list[list[int]]) -> sp.csr_matrix:
    data = [(r, c) for r, cols in enumerate(rows) for c in cols]
    return sp.csr_matrix(
        (np.ones(len(data), np.float32), ([r for r, _ in data], [c for _, c in data])),
        shape=(len(rows), N_ITEMS),
    )


# New histories (not rows of the training matrix): fold-in; one empty.
QUERIES = histories([[0, 3, 5], [16, 19], [2], []])


@pytest.fixture(scope="module")
def X() -> sp.csr_matrix:
    return block_matrix()


@pytest.fixture(scope="module", params=sorted(FACTORIES))
def fitted(request: pytest.FixtureRequest, X: sp.csr_matrix) -> tuple[str, ItemScorer]:
    return request.param, FACTORIES[request.param]().fit(X)


def npz_round_trip(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return {k: loaded[k] for k in loaded.files}


def test_every_model_is_in_the_suite() -> None:
    assert {f().kind for f in FACTORIES.values()} == set(MODELS)


def test_scores_shape_dtype_finite(fitted: tuple[str, ItemScorer]) -> None:
    _, model = fitted
    scores = model.score(QUERIES)
    assert scores.shape == (QUERIES.shape[0], N_ITEMS)
    assert scores.dtype == np.float32
    assert np.isfinite(scores).all()


def test_empty_history_and_no_rows(fitted: tuple[str, ItemScorer]) -> None:
    _, model = fitted
    assert np.isfinite(model.score(sp.csr_matrix((1, N_ITEMS)))).all()
    assert model.score(sp.csr_matrix((0, N_ITEMS))).shape == (0, N_ITEMS)


def test_same_block_items_score_above_the_other_block(fitted: tuple[str, ItemScorer]) -> None:
    """The structure is learned, and reaches histories the model never trained on."""
    name, model = fitted
    scores = model.score(QUERIES)
    for row, block in ((0, 0), (1, 1), (2, 0)):
        seen = set(QUERIES[row].indices)
        same = [i for i in range(block * ITEMS_PER_BLOCK, (block + 1) * ITEMS_PER_BLOCK)]
        other = [i for i in range(N_ITEMS) if i // ITEMS_PER_BLOCK != block]
        if name == "ease most-played":  # only the 16 most-played are modelled; others score 0
            same = [i for i in same if i in set(model.items.tolist())]  # type: ignore[attr-defined]
        unseen = [i for i in same if i not in seen]
        assert scores[row, unseen].mean() > scores[row, other].max(), (name, row)
        top = np.argsort(-scores[row], kind="stable")
        best = next(i for i in top if i not in seen)
        assert best // ITEMS_PER_BLOCK == block, (name, row)


def test_arrays_round_trip_gives_equal_scores(fitted: tuple[str, ItemScorer]) -> None:
    _, model = fitted
    arrays = npz_round_trip(model.to_arrays())
    loaded = load_arrays(arrays)
    assert type(loaded) is type(model)
    assert loaded.params == model.params
    np.testing.assert_array_equal(loaded.score(QUERIES), model.score(QUERIES))


def test_deterministic_for_a_seed(fitted: tuple[str, ItemScorer], X: sp.csr_matrix) -> None:
    name, model = fitted
    again = FACTORIES[name]().fit(X)
    np.testing.assert_array_equal(again.score(QUERIES), model.score(QUERIES))


def test_weights_are_read_as_binary(fitted: tuple[str, ItemScorer], X: sp.csr_matrix) -> None:
    name, model = fitted
    weighted = X.copy()
    weighted.data = weighted.data * 7.0
    again = FACTORIES[name]().fit(weighted)
    np.testing.assert_array_equal(again.score(QUERIES * 3.0), model.score(QUERIES))


def test_a_history_of_the_wrong_width_is_refused(fitted: tuple[str, ItemScorer]) -> None:
    _, model = fitted
    with pytest.raises(ValueError, match="item columns"):
        model.score(sp.csr_matrix((1, N_ITEMS + 1)))
    with pytest.raises(TypeError):
        model.score(np.zeros((1, N_ITEMS)))  # type: ignore[arg-type]


def test_score_before_fit_is_an_error() -> None:
    for factory in FACTORIES.values():
        with pytest.raises(RuntimeError, match="before fit"):
            factory().score(QUERIES)


def test_hostile_arrays_are_refused(fitted: tuple[str, ItemScorer]) -> None:
    """Each corruption is named: a non-finite float, a wrong shape, a missing array, a wrong
    kind, bad parameters."""
    _, model = fitted
    arrays = model.to_arrays()
    floats = [k for k, v in arrays.items() if v.dtype.kind == "f" and v.size]
    assert floats
    for name in floats:
        bad = dict(arrays)
        bad[name] = arrays[name].copy()
        bad[name].flat[0] = np.nan
        with pytest.raises(ModelArraysError, match=name):
            load_arrays(bad)
        with pytest.raises(ModelArraysError, match=name):
            load_arrays(
                {**arrays, name: arrays[name][..., :-1]}
                if arrays[name].ndim == 2
                else {**arrays, name: arrays[name][None]}
            )
        with pytest.raises(ModelArraysError, match=name):
            load_arrays({k: v for k, v in arrays.items() if k != name})
    with pytest.raises(ModelArraysError, match="kind"):
        load_arrays({**arrays, "kind": np.array("pickle")})
    with pytest.raises(ModelArraysError, match="params"):
        load_arrays({**arrays, "params": np.array('{"no_such": 1}')})
    with pytest.raises(ModelArraysError, match="n_items"):
        load_arrays({**arrays, "n_items": np.array(0)})
