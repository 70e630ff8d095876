"""The pool: the union of what the sources propose, each candidate fetched once.

A candidate remembers every source that proposed it with that source's score and rank (the
ranker's features, and the "why" shown with each result). Candidates the engine did not
return are fetched in ONE retrieve (payloads and sparse vectors: the dense cosines are the
engine's, `signals.Similarity`); since that fetch is by id, the request filters are applied
here to them (the engine applied them to its own hits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.recommend.query import passes
from core.recommend.seeds import SeedQuery
from core.recommend.signals import sparse_names
from core.recommend.sources.base import CandidateSource
from core.store import PointRecord, VectorStore
from schemas.tracks import point_id


@dataclass(frozen=True)
class SourceHit:
    score: float
    rank: int  # 0 = the source's best


@dataclass
class Candidate:
    track_id: str
    record: PointRecord | None = None
    sources: dict[str, SourceHit] = field(default_factory=dict)


def gather(
    sources: Sequence[tuple[CandidateSource, int]], query: SeedQuery
) -> dict[str, Candidate]:
    """Union of the sources' proposals (each source asked for its own pool size), in order of
    first proposal."""
    pool: dict[str, Candidate] = {}
    excluded = set(query.exclude)
    for source, n in sources:
        for rank, proposal in enumerate(source.propose(query, n)):
            if proposal.track_id in excluded:
                continue
            candidate = pool.setdefault(proposal.track_id, Candidate(proposal.track_id))
            candidate.sources[source.name] = SourceHit(proposal.score, rank)
            if candidate.record is None:
                candidate.record = proposal.record
    return pool


def hydrate(store: VectorStore, pool: dict[str, Candidate], query: SeedQuery) -> list[Candidate]:
    """Candidates with their stored points; tracks missing from the collection (a model
    trained on a larger catalog) or failing the filters are dropped."""
    missing = [c.track_id for c in pool.values() if c.record is None]
    if missing:
        ids = [point_id(t) for t in missing]
        for record in store.retrieve(ids, with_vectors=sparse_names(query.queries)):
            candidate = pool.get(record.payload.get("track_id", ""))
            if candidate is not None and passes(query.filters, record.payload):
                candidate.record = record
    return [c for c in pool.values() if c.record is not None]
