"""Item co-occurrence (item-based collaborative filtering) and popularity, from the
interaction matrix the ranker artefact carries (`core.recommend.user_tracks`).

Co-occurrence works from the query's history alone, so it also serves users the LightFM model
has never seen (their recorded events, or the seeds of a request). Popularity is the fallback
for a history that co-occurs with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal


@dataclass
class CooccurrenceSource:
    name: str = "cooccurrence"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index = query.snapshot.index
        if index is None or n <= 0:
            return []
        scores = index.history_cooccurrence(query.history())
        return [Proposal(t, s) for t, s in index.top(scores, n, query.excluded)]


@dataclass
class PopularitySource:
    name: str = "popularity"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index = query.snapshot.index
        if index is None or n <= 0:
            return []
        return [Proposal(t, s) for t, s in index.popular(n, query.excluded)]
