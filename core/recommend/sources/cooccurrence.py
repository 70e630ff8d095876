"""Item co-occurrence (item-based collaborative filtering) and popularity, from the
interaction matrix the ranker artefact carries (`core.recommend.user_tracks`).

Co-occurrence (normalised by each track's count, item-cosine-like) works from the query's
history alone, so it also serves users the LightFM model has never seen (their recorded
events, or the seeds of a request). Popularity is the fallback for a history that co-occurs
with nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal


@dataclass
class CooccurrenceSource:
    name: str = "cooccurrence"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index, raw = query.snapshot.index, query.cooccurrence
        if index is None or raw is None or n <= 0:
            return []
        # Normalised by each track's own count (the cosine of its column with the history's,
        # up to the history's constant): raw co-occurrence Xᵀ(X·h) proposed the most-held
        # tracks to everyone (issue 27).
        scores = raw / np.sqrt(np.maximum(index.counts, 1.0))
        return [Proposal(t, float(s)) for t, s in index.top(scores, n, query.excluded)]


@dataclass
class PopularitySource:
    name: str = "popularity"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index = query.snapshot.index
        if index is None or n <= 0:
            return []
        return [Proposal(t, s) for t, s in index.popular(n, query.excluded)]
