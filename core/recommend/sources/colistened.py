"""Co-listened artists: the artists whose listeners overlap most with the history's, each with
its most held tracks (`core.recommend.artists`; "listeners of X also play Y").

It reaches beyond the seeds' own artists (the artist source) and beyond the exact tracks the
history shares with other users (co-occurrence): two users who play different songs of the
same artists still link those artists. No engine call: the pool's one retrieve fetches these
points and applies the request filters; only `exclude_artists` is applied here, so an excluded
artist does not take a slot. The score is the artist's cosine (≤ 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal


@dataclass
class ColistenedSource:
    per_artist: int = 3  # tracks proposed per artist, so one artist cannot fill the pool
    name: str = "colistened"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index = query.snapshot.index
        if index is None or n <= 0:
            return []
        own = set(query.seed_artists())
        scores = index.colistened(query.history(), sorted(own))
        if scores is None:
            return []
        found = index.colistened_tracks(
            scores,
            n,
            per_artist=self.per_artist,
            skip_artists={*own, *query.filters.exclude_artists},
            exclude=query.excluded,
        )
        return [Proposal(t, s) for t, s in found]
