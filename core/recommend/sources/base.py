"""The contract every candidate source implements
(tests/core/recommend/sources/test_contract.py runs one
suite against each, on both store engines).

A source is built once per recommender (`sources.registry`) and asked once per request:
`propose(query, n)`. Everything that changes between requests travels in the query: the
seeds and their stored points, the filters, `query.excluded`, and `query.snapshot` — the
LightFM model and the ranker artefact (with its user × track matrix, `snapshot.index`) this
request serves from. A source never reads a holder, so a hot reload cannot hand it another
model than the rest of the request. State a source derives from the matrix (an item-item
matrix, factors) is built once per loaded artefact with `PerIndex`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from core.recommend.seeds import SeedQuery
from core.recommend.user_tracks import UserTrackMatrix
from core.store import PointRecord

T = TypeVar("T")


@dataclass(frozen=True)
class Proposal:
    """A proposed track with the source's own score (higher is better). `record` is the stored
    point with its vectors when the source already has it (the content source gets it from its
    engine query), so the recommender fetches only what is missing."""

    track_id: str
    score: float
    record: PointRecord | None = None


class CandidateSource(Protocol):
    name: str

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        """At most `n` distinct tracks, best first, none of `query.excluded`. A source may
        return fewer, or none when it has nothing to say (an unknown user, no model, no
        interaction matrix in `query.snapshot`)."""
        ...


class PerIndex(Generic[T]):
    """What a source derives from an interaction matrix, built once per matrix and dropped
    with it: the matrix changes only when a new ranker artefact is loaded, and deriving (an
    EASE item matrix, iALS factors) costs far more than a request may."""

    def __init__(self, build: Callable[[UserTrackMatrix], T]) -> None:
        self._build = build
        self._built: weakref.WeakKeyDictionary[UserTrackMatrix, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, index: UserTrackMatrix) -> T:
        with self._lock:  # two requests on a fresh artefact build it once
            if index not in self._built:
                self._built[index] = self._build(index)
            return self._built[index]
