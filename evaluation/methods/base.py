"""The one contract every evaluated method implements (baselines, LightFM, the product).

Like `implicit`'s RecommenderBase: a method is fitted on the training side of a split and then
answers queries; a protocol measures every method through this contract alone, so a P@10 in
one table means the same for a baseline as for the product.

    ranker.fit(TrainData(catalog, interactions))   # once per split
    ranker.rank(Query(id, seeds, exclude, user_id), k) -> [track_id, ...]   # best first

Guarantees (checked for every method by tests/evaluation/methods/test_contract.py): at most k
distinct
catalog ids, never a seed or an excluded id, the same answers for the same seed and the same
sequence of queries, and an answer (possibly empty) for a query with no history at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from schemas.tracks import Track


@dataclass(frozen=True)
class Query:
    """One question to a ranker.

    `seeds` are the tracks the query starts from (a playlist's visible tracks, the query
    song); `exclude` are the tracks that must not come back (always includes the seeds);
    `user_id` names a user the training interactions may know (a playlist), or None.
    """

    id: str
    seeds: tuple[str, ...] = ()
    exclude: frozenset[str] = frozenset()
    user_id: str | None = None

    @property
    def banned(self) -> frozenset[str]:
        return self.exclude | frozenset(self.seeds)


@dataclass
class TrainData:
    """What a ranker may learn from: the catalog it ranks (its order is the ranker's index
    order) and the training interactions, one (user_id, track_id) row per positive."""

    catalog: Sequence[Track]
    interactions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"user_id": [], "track_id": []}, dtype=str)
    )

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.catalog]


@runtime_checkable
class Method(Protocol):
    """fit on a split's training side, then rank the catalog for a query."""

    name: str

    def fit(self, data: TrainData) -> Method: ...

    def rank(self, query: Query, k: int) -> list[str]: ...


class ScoringMethod:
    """A ranker that scores the whole catalog at once: `scores` is the only thing to write.

    The top k are taken by `np.argpartition` and ordered by score (stable among ties), so
    a report made with a given seed is reproducible to the last digit.
    """

    name = "scoring ranker"

    def __init__(self) -> None:
        self.ids: np.ndarray = np.array([], dtype=object)
        self.index: dict[str, int] = {}

    def fit(self, data: TrainData) -> ScoringMethod:
        self.ids = np.array(data.ids, dtype=object)
        self.index = {t: i for i, t in enumerate(data.ids)}
        self._fit(data)
        return self

    def _fit(self, data: TrainData) -> None:
        """Learn from the training side (nothing by default)."""

    def scores(self, query: Query) -> np.ndarray:
        raise NotImplementedError

    def rank(self, query: Query, k: int) -> list[str]:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        scores = np.asarray(self.scores(query), dtype=np.float64).copy()
        banned = [self.index[t] for t in query.banned if t in self.index]
        scores[banned] = -np.inf
        return top_k(scores, self.ids, k)


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> list[str]:
    """The ids of the k best finite scores, best first (fewer if fewer are finite)."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k == 0:
        return []
    best = np.argpartition(-scores, k)[:k] if k < len(scores) else np.arange(len(scores))
    return ids[best[np.argsort(-scores[best], kind="stable")]].tolist()
