"""A top-n cut that is the same in every call: exact score ties ordered by track id, also
across the cut.

Reciprocal-rank fusion ties exactly and often: a track found by one modality only, at rank
r, scores w/(k + r) like the track another modality found at the same rank, and identical
vectors (one song on two albums) tie within a modality. The engine returns tied hits in its
own order, which changes from call to call, so a cut at n kept one of the tied tracks one
call and another the next: the same request got another pool (docs/performance.md), and a
ranker trained twice on the same data two models. Sorting the returned hits is not enough
when the tie group straddles the cut; this asks for a margin beyond it and widens the margin
until the group is whole."""

from __future__ import annotations

from collections.abc import Callable

from core.store import ScoredRecord

#: Hits asked for beyond the cut (at least this many, or a tenth of the cut).
MARGIN = 8


def _order(hit: ScoredRecord) -> tuple[float, str]:
    return -hit.score, str(hit.payload.get("track_id", hit.id))


def stable_top(
    fetch: Callable[[int], list[ScoredRecord]], n: int, offset: int = 0
) -> list[ScoredRecord]:
    """Hits `offset` to `offset + n` of the ranking `fetch(limit)` returns (its best `limit`
    hits from the first), exact ties ordered by track id."""
    want = offset + n
    if n <= 0:
        return []
    margin = max(MARGIN, want // 10)
    while True:
        hits = sorted(fetch(want + margin), key=_order)
        if len(hits) < want + margin or hits[-1].score < hits[want - 1].score:
            return hits[offset:want]  # everything there is, or the cut's tie group is whole
        margin *= 4
