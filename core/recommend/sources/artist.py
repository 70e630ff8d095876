"""Same artist: tracks by the artists of the seeds, found by the engine's `artists` filter.

The fused content query restricted (a must-filter on the payload index `artists`) to the
seeds' most frequent artists, so an artist's tracks come back in content order; the score is
how many seeds share an artist with the track (ties: content order).

The dense modalities only: within one artist's tracks the BM25 lyric terms mostly repeat the
artist's own vocabulary, so they hardly order them, while a sparse search under a selective
filter is the engine's slow case (measured in docs/performance.md, "Numbers behind the
recommender's defaults"). The ranker still gets every candidate's `lyrics_terms` cosine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal
from core.recommend.sources.content import ContentSource
from core.store import PointRecord


def most_shared(counts: Counter[str], k: int) -> list[str]:
    """The `k` artists most seeds share, ties by name. `Counter.most_common` breaks ties by
    insertion order, which follows the set each seed's artists were deduplicated in, so the
    cut at `k` moved with Python's string hash seed: the same request in another process got
    another pool, and a ranker trained twice on the same data two different models."""
    return sorted(counts, key=lambda a: (-counts[a], a))[:k]


@dataclass
class ArtistSource:
    content: ContentSource
    max_artists: int = 50  # the seeds' most frequent artists that are asked for
    name: str = "artist"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        counts = query.seed_artists()
        if not counts or n <= 0:
            return []
        artists = most_shared(counts, self.max_artists)
        hits = self.content.search(query, n, artists=artists, dense_only=True)
        shared = [sum(counts[a] for a in set(h.payload.get("artists") or ())) for h in hits]
        # Exact RRF ties come back in an engine-dependent order: break them by id.
        order = sorted(
            range(len(hits)),
            key=lambda i: (-shared[i], -hits[i].score, hits[i].payload["track_id"]),
        )
        return [
            Proposal(
                hits[i].payload["track_id"],
                float(shared[i]),
                PointRecord(hits[i].id, hits[i].vectors, hits[i].payload),
            )
            for i in order
        ]
