"""The strong collaborative baselines of the literature (core/cf) under the Method contract,
with the hyper-parameter grids they are tuned over.

Each is fitted on the training side's user × track matrix over the catalog; a query is its
user's training row when the user is known, else its seeds (a history the model never saw is
folded in by the model itself). Grids follow Dacrema et al. (RecSys 2019) cut to what a
2-core machine tunes in minutes; `evaluation.tuning` picks a point on a validation split of
the training side only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.cf import BPR, EASE, IALS, ItemKNN, ItemScorer, RP3Beta, UserKNN
from evaluation.methods.base import Query, TrainData, top_k
from evaluation.methods.baselines import _Interactions


class CFMethod(_Interactions):
    """One core/cf model with fixed hyper-parameters, as an evaluated method."""

    def __init__(self, name: str, model: type[ItemScorer], params: Mapping[str, Any]) -> None:
        super().__init__()
        self.name, self.model_type, self.params = name, model, dict(params)
        self.model: ItemScorer | None = None

    def _fit(self, data: TrainData) -> None:
        super()._fit(data)
        self.model = self.model_type(**self.params).fit(self.matrix)

    def scores(self, query: Query) -> np.ndarray:
        assert self.model is not None, "fit first"
        return self.model.score(self.history(query))[0]

    def rank(self, query: Query, k: int) -> list[str]:
        return self.rank_many([query], k)[0]

    def rank_many(self, queries: Sequence[Query], k: int, batch: int = 256) -> list[list[str]]:
        """`rank` for many queries, scored `batch` histories per model call (the same answers
        as one by one: scores are computed row by row either way)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        assert self.model is not None, "fit first"
        out: list[list[str]] = []
        for start in range(0, len(queries), batch):
            chunk = queries[start : start + batch]
            H = sp.vstack([self.history(q) for q in chunk], format="csr")
            scores = self.model.score(H).astype(np.float64)
            for row, query in enumerate(chunk):
                banned = [self.index[t] for t in query.banned if t in self.index]
                scores[row, banned] = -np.inf
                scores[row, H[row].indices] = -np.inf  # the user's own training tracks
                out.append(top_k(scores[row], self.ids, k))
        return out


@dataclass(frozen=True)
class Baseline:
    """A model, the grid its hyper-parameters are tuned over, and what stays fixed."""

    name: str
    model: type[ItemScorer]
    grid: dict[str, tuple[Any, ...]]
    fixed: dict[str, Any] = field(default_factory=dict)

    def method(self, params: Mapping[str, Any]) -> CFMethod:
        return CFMethod(self.name, self.model, {**self.fixed, **params})


# The grids of the dense check (scripts/eval_dense.py): at 145k tracks a grid point costs
# minutes, so fewer points, around the literature's choices for dense data.
SMALL_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "EASE^R": {"lam": (100.0, 1000.0)},
    "iALS": {"regularization": (10.0, 100.0), "alpha": (10.0,)},
    "BPR": {"learning_rate": (0.05,)},
    "RP3beta": {"alpha": (1.0,), "beta": (0.3, 0.6)},
    "ItemKNN cosine": {"top_k": (100,), "shrink": (0.0, 10.0)},
    "UserKNN cosine": {"k": (50, 200)},
}


def baselines(
    seed: int, threads: int = 1, max_items: int | None = None, small: bool = False
) -> list[Baseline]:
    """The tuned baselines; `max_items` bounds dense EASE (its most-played items); `small`
    tunes over SMALL_GRIDS."""
    full = _baselines(seed, threads, max_items)
    if not small:
        return full
    return [Baseline(b.name, b.model, SMALL_GRIDS[b.name], b.fixed) for b in full]


def _baselines(seed: int, threads: int, max_items: int | None) -> list[Baseline]:
    return [
        Baseline("EASE^R", EASE, {"lam": (10.0, 100.0, 500.0, 2000.0)}, {"max_items": max_items}),
        Baseline(
            "iALS",
            IALS,
            {"regularization": (10.0, 100.0), "alpha": (10.0, 30.0)},
            {"factors": 128, "iterations": 10, "seed": seed, "threads": threads},
        ),
        Baseline(
            "BPR",
            BPR,
            {"learning_rate": (0.01, 0.05, 0.1)},
            {"factors": 64, "regularization": 0.01, "iterations": 100, "seed": seed},
        ),
        Baseline(
            "RP3beta", RP3Beta, {"alpha": (0.5, 1.0), "beta": (0.0, 0.3, 0.6)}, {"top_k": 200}
        ),
        Baseline("ItemKNN cosine", ItemKNN, {"top_k": (100, 1000), "shrink": (0.0, 10.0)}),
        Baseline("UserKNN cosine", UserKNN, {"k": (10, 50, 200)}),
    ]
