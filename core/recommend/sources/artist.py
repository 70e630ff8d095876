"""Artists: tracks by the seeds' own artists, then by the artists co-listened with them.

Own artists: the fused content query restricted (a must-filter on the payload index `artists`)
to the seeds' most frequent artists, so an artist's tracks come back in content order; the
score is how many seeds share an artist with the track (≥ 1; ties: content order).

Co-listened artists (when the interaction matrix carries the tracks' artists): the artists
whose listeners overlap most with the history's (`core.recommend.artists`), each with its most
held tracks; the score is that artist's cosine (≤ 1, so own artists come first). No engine
call: the pool's one retrieve fetches these points and applies the request filters.

Half of the pool goes to each half when both have enough; either fills what the other leaves.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import IndexProvider, Proposal, query_history
from core.recommend.sources.content import ContentSource
from core.store import PointRecord


def _no_index() -> None:
    return None


@dataclass
class ArtistSource:
    content: ContentSource
    index: IndexProvider = _no_index
    max_artists: int = 50  # the seeds' most frequent artists that are asked for
    per_artist: int = 3  # tracks proposed per co-listened artist
    name: str = "artist"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        if n <= 0:
            return []
        positive = set(query.positive)
        counts = Counter(
            a
            for t, record in query.seeds.items()
            if t in positive
            for a in set(record.payload.get("artists") or ())
        )
        colistened = self._colistened(query, counts, n)
        own = self._own(query, counts, n - min(len(colistened), n // 2))
        mine = {p.track_id for p in own}  # a track may have an own and a co-listened artist
        return (own + [p for p in colistened if p.track_id not in mine])[:n]

    def _own(self, query: SeedQuery, counts: Counter[str], n: int) -> list[Proposal]:
        if not counts or n <= 0:
            return []
        artists = [a for a, _ in counts.most_common(self.max_artists)]
        hits = self.content.search(query, n, artists=artists)
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

    def _colistened(self, query: SeedQuery, counts: Counter[str], n: int) -> list[Proposal]:
        index = self.index()
        if index is None:
            return []
        scores = index.colistened(query_history(query, index), list(counts))
        if scores is None:
            return []
        found = index.colistened_tracks(
            scores,
            n,
            per_artist=self.per_artist,
            skip_artists={*counts, *query.filters.exclude_artists},
            exclude={*query.exclude, *query.positive, *query.negative},
        )
        return [Proposal(t, s) for t, s in found]
