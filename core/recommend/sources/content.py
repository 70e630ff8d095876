"""Content candidates: one prefetch per modality of the seed query, fused inside Qdrant.

Its parameters have no defaults here: they are the settings' (`build_recommender`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from core.recommend.query import to_filter
from core.recommend.seeds import SeedQuery
from core.recommend.signals import sparse_names
from core.recommend.sources.base import Proposal
from core.recommend.ties import stable_top
from core.store import PointRecord, ScoredRecord, TrackFilter, VectorStore
from core.store.base import Fusion
from schemas.vectors import SparseVector, Vector


@dataclass
class ContentSource:
    store: VectorStore
    fusion: Fusion
    rrf_k: int
    prefetch_limit: int
    name: str = "content"

    def search(
        self,
        query: SeedQuery,
        n: int,
        offset: int = 0,
        only: Sequence[str] = (),
        artists: Sequence[str] = (),
        dense_only: bool = False,
    ) -> list[ScoredRecord]:
        """The engine's fused hits (filters and exclusions applied in the engine); `artists`
        restricts them to tracks by those artists; `dense_only` leaves the sparse modalities
        out of the fusion (when a dense one is left)."""
        flt = replace(to_filter(query.filters, query.exclude, only), artists=list(artists))
        queries = query.queries
        dense = {k: v for k, v in queries.items() if not isinstance(v, SparseVector)}
        if dense_only and dense:
            queries = dense
        return self.fused(queries, query.weights, flt, n, offset)

    def fused(
        self,
        queries: Mapping[str, Vector],
        weights: Mapping[str, float],
        flt: TrackFilter,
        n: int,
        offset: int = 0,
    ) -> list[ScoredRecord]:
        """One prefetch per named vector, fused inside the engine with this source's fusion
        settings (text search runs the same query), exact ties by track id (`ties`): a
        request's pool, and a ranker trained on such pools, are the same in every call. The
        hits carry their sparse vectors only: the dense cosines are the engine's
        (`signals.Similarity`)."""
        engine_queries: dict[str, Vector] = {
            k: v if isinstance(v, SparseVector) else list(v) for k, v in queries.items()
        }
        return stable_top(
            lambda limit: self.store.fused_search(
                engine_queries,
                dict(weights),
                limit=limit,
                flt=flt,
                fusion=self.fusion,
                prefetch_limit=self.prefetch_limit,
                rrf_k=self.rrf_k,
                with_vectors=sparse_names(queries),
            ),
            n,
            offset,
        )

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        if n <= 0:
            return []  # qdrant-client refuses limit 0
        return [
            Proposal(h.payload["track_id"], h.score, PointRecord(h.id, h.vectors, h.payload))
            for h in self.search(query, n)
        ]
