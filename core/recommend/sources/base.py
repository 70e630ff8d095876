"""The contract every candidate source implements
(tests/core/recommend/sources/test_contract.py runs one
suite against each, on both store engines)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.recommend.seeds import SeedQuery
from core.recommend.user_tracks import UserTrackMatrix
from core.store import PointRecord

IndexProvider = Callable[[], UserTrackMatrix | None]


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
        """At most `n` distinct tracks, best first, none of `query.exclude`. A source may
        return fewer, or none when it has nothing to say (an unknown user, no model)."""
        ...


def query_history(query: SeedQuery, index: UserTrackMatrix | None) -> list[str]:
    """The seeds plus what the index knows the user holds."""
    known = index.user_tracks(query.user_id) if index is not None else []
    return list(dict.fromkeys([*query.positive, *known]))
