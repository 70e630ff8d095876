"""The strong collaborative models (EASE, iALS, RP3β, similar listeners) as the recommender
uses them: fitted on the columns of one interaction matrix (`UserTrackMatrix`), each scores a
history over the index's tracks, once per request (`SeedQuery.cf_scores`: the candidate source
and the ranker's feature read the same array).

Histories are scored, not users: a user the models never saw (a new listener, the seeds of a
request, a history that grew since training) is scored from what they hold, like the
co-occurrence source. EASE's dense inverse is bounded (`ease_max_items`): it is fitted on the
most-held tracks only; the other tracks get no EASE score (NaN, missing, never 0), the other
models cover them.

The models travel in the ranker artefact (`rankers.artefact`), so they are published,
hot-reloaded and fall back together with the booster trained on their scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController

from core.cf import EASE, IALS, ItemScorer, RP3Beta, UserKNN, load_arrays
from core.recommend.user_tracks import UserTrackMatrix
from schemas.settings.cf import CFName, CFSettings

CF_NAMES: tuple[str, ...] = get_args(CFName)  # the models, and the names of their sources

_COLUMNS = "__columns__"  # the index column of each of a bounded model's items


@dataclass(frozen=True)
class FittedCF:
    """One fitted model; `columns` maps its items to index columns (None: all of them)."""

    name: str
    model: ItemScorer
    columns: np.ndarray | None = None
    fit_seconds: float = 0.0


class CFScores:
    """Each fitted model's scores of a history, per index track (NaN: not covered)."""

    def __init__(self, index: UserTrackMatrix, fitted: Sequence[FittedCF]) -> None:
        self.index = index
        self.fitted: dict[str, FittedCF] = {f.name: f for f in fitted}

    @property
    def names(self) -> list[str]:
        return list(self.fitted)

    def scores(self, name: str, history: Sequence[str]) -> np.ndarray | None:
        """Read-only scores of `history` by model `name`; None when it is not fitted."""
        if name not in self.fitted:
            return None
        with _blas().limit(limits=1, user_api="blas"):
            return self._scored(name, sorted(set(history)))

    def _scored(self, name: str, history: Sequence[str]) -> np.ndarray:
        fitted = self.fitted[name]
        cols = self.index.columns(history)
        out = np.full(len(self.index), np.nan, dtype=np.float32)
        if fitted.columns is not None:
            local = np.flatnonzero(np.isin(fitted.columns, cols))
            width = len(fitted.columns)
        else:
            local, width = cols, len(self.index)
        if len(local):  # else the model knows nothing of the history: it says nothing (NaN)
            row = _score(fitted.model, local, width)
            if fitted.columns is None:
                out[:] = row
            else:
                out[fitted.columns] = row
        out.flags.writeable = False  # the query shares it between its source and a feature
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """`<name>/<key>` arrays of every model (plain arrays: the artefact has no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        for name, f in self.fitted.items():
            parts = dict(f.model.to_arrays())
            if f.columns is not None:
                parts[_COLUMNS] = f.columns
            arrays |= {f"{name}/{k}": v for k, v in parts.items()}
        return arrays

    @classmethod
    def from_arrays(
        cls, index: UserTrackMatrix, names: Sequence[str], arrays: Mapping[str, np.ndarray]
    ) -> CFScores:
        """The models `names` from `to_arrays`' output; a missing or malformed array raises
        (KeyError / ValueError: the artefact is unreadable, the last good one serves)."""
        fitted = []
        for name in names:
            prefix = f"{name}/"
            parts = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
            columns = parts.pop(_COLUMNS, None)
            if columns is not None and not (
                columns.ndim == 1
                and len(columns)
                and 0 <= columns.min() <= columns.max() < len(index)
            ):
                raise ValueError(f"{name}: columns outside the interaction matrix")
            fitted.append(FittedCF(name, model_from_arrays(name, parts), columns))
        for f in fitted:  # a model of another width would fail on the first request instead
            width = len(index) if f.columns is None else len(f.columns)
            if f.model.n_items != width:
                raise ValueError(f"{f.name}: {f.model.n_items} items, the matrix has {width}")
        return cls(index, fitted)

    def metadata(self) -> dict[str, dict[str, float | int]]:
        return {
            name: {
                "items": len(self.index) if f.columns is None else len(f.columns),
                "fit_seconds": round(f.fit_seconds, 3),
            }
            for name, f in self.fitted.items()
        }


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    """One controller (finding the BLAS libraries costs ~40 ms; limiting through it, ~µs).
    A request's scoring is one small solve and a matrix-vector product: a second BLAS thread
    on a busy machine made them ten times slower (iALS: 220 ms against 19 ms under load 30),
    and the API serves requests on the other core."""
    return ThreadpoolController()


def new_model(name: str, settings: CFSettings, dense_ease: bool = False) -> ItemScorer:
    """The unfitted model `name` with its settings' hyper-parameters; `dense_ease`: EASE
    keeps its exact weights (no pruning; the dual form when users are the fewer)."""
    if name == "ease":
        return EASE(lam=settings.ease_lambda, top_k=None if dense_ease else settings.ease_topk)
    if name == "ials":
        return IALS(
            factors=settings.ials_factors,
            regularization=settings.ials_regularization,
            alpha=settings.ials_alpha,
            iterations=settings.ials_iterations,
            seed=settings.cf_seed,
            threads=settings.cf_threads,
        )
    if name == "rp3beta":
        return RP3Beta(alpha=settings.rp3_alpha, beta=settings.rp3_beta, top_k=settings.rp3_topk)
    if name == "userknn":
        return UserKNN(k=settings.userknn_neighbours)
    raise ValueError(f"unknown collaborative model {name!r} (known: {list(CF_NAMES)})")


def model_from_arrays(name: str, arrays: Mapping[str, np.ndarray]) -> ItemScorer:
    """The model `name` as saved; ValueError (`ModelArraysError`) when the arrays describe
    another model or none."""
    model = load_arrays(arrays)
    if model.kind != name:
        raise ValueError(f"{name}: the arrays hold a {model.kind!r} model")
    return model


def _score(model: ItemScorer, cols: np.ndarray, width: int) -> np.ndarray:
    """The model's scores (float32, one per item) of the history holding items `cols`."""
    h = sp.csr_matrix(
        (np.ones(len(cols), np.float32), (np.zeros(len(cols), np.int64), cols)), shape=(1, width)
    )
    return np.asarray(model.score(h), dtype=np.float32).ravel()


def fit_cf(
    index: UserTrackMatrix,
    settings: CFSettings,
    names: Sequence[str] = CF_NAMES,
    on_progress: Callable[[str], None] = lambda _: None,
) -> CFScores:
    """The models `names` fitted on `index`'s users × tracks with the settings'
    hyper-parameters."""
    fitted = []
    for name in names:
        started = time.perf_counter()
        x, columns = index.matrix, None
        # EASE's inverse is min(users, tracks)² (the dual form when users are fewer): exact
        # under the bound, else over the most-held tracks only, pruned.
        exact = min(x.shape) <= settings.ease_max_items
        if name == "ease" and not exact:
            columns = np.sort(index.most_held(settings.ease_max_items))
            x = x[:, columns]
        model = new_model(name, settings, dense_ease=exact and x.shape[0] < x.shape[1])
        model.fit(sp.csr_matrix(x))
        seconds = time.perf_counter() - started
        fitted.append(FittedCF(name, model, columns, seconds))
        on_progress(f"  {name}: {x.shape[0]} users x {x.shape[1]} tracks in {seconds:.1f} s")
    return CFScores(index, fitted)
