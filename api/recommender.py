"""Recommendation logic, free of HTTP, so the evaluation harness runs the very same code.

Seeds are looked up by id and their stored vectors become the query: Qdrant Edge cannot
query by point id, and computing the query here keeps both engines on one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from indexer.encoders.base import Encoder
from indexer.store import PointRecord, ScoredRecord, TrackFilter, VectorStore
from schemas.api import (
    Filters,
    RecommendationItem,
    RecommendationRequest,
    RecommendationResponse,
    SearchResponse,
    TrackOut,
)
from schemas.layout import COVER, LYRICS, MODALITIES, CollectionLayout, LayoutMismatchError
from schemas.tracks import point_id


class UnknownTracksError(LookupError):
    def __init__(self, track_ids: Sequence[str]) -> None:
        super().__init__(f"unknown track ids: {', '.join(track_ids)}")
        self.track_ids = list(track_ids)


class UnsupportedQueryError(ValueError):
    """A query this collection or encoder cannot answer (HTTP 400/422, not a server fault)."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def query_vector(positive: list[list[float]], negative: list[list[float]]) -> np.ndarray:
    """Qdrant's `average_vector` recommendation strategy: avg(pos) + (avg(pos) - avg(neg))."""
    pos = _unit(np.mean(np.asarray(positive, dtype=np.float64), axis=0))
    if not negative:
        return pos
    neg = _unit(np.mean(np.asarray(negative, dtype=np.float64), axis=0))
    return _unit(2 * pos - neg)


def to_filter(filters: Filters, exclude_ids: Sequence[str] = ()) -> TrackFilter:
    return TrackFilter(
        genres=filters.genres,
        year_min=filters.year_min,
        year_max=filters.year_max,
        explicit=filters.explicit,
        exclude_artists=filters.exclude_artists,
        exclude_ids=list(exclude_ids),
    )


def _cosine(a: Sequence[float], b: np.ndarray) -> float:
    return float(np.dot(_unit(np.asarray(a, dtype=np.float64)), b))


def explain(hit: ScoredRecord, queries: dict[str, np.ndarray]) -> RecommendationItem:
    """Per-modality similarity: fusion ranks by rank, so the raw cosines are recomputed here."""
    return RecommendationItem(
        track=TrackOut.from_payload(hit.payload),
        score=hit.score,
        similarities={
            name: round(_cosine(hit.vectors[name], q), 6) if name in hit.vectors else None
            for name, q in queries.items()
        },
    )


@dataclass
class Recommender:
    store: VectorStore
    lyrics_encoder: Encoder | None
    cover_encoder: Encoder | None = None
    fusion: str = "rrf"
    rrf_k: int = 60
    prefetch_limit: int = 200
    _layout: CollectionLayout | None = field(default=None, init=False, repr=False)

    def seeds(self, track_ids: Sequence[str]) -> dict[str, PointRecord]:
        """Stored points for the ids, by track id; all must exist."""
        found = self.store.retrieve([point_id(t) for t in track_ids], with_vectors=True)
        by_track = {r.payload["track_id"]: r for r in found}
        missing = [t for t in dict.fromkeys(track_ids) if t not in by_track]
        if missing:
            raise UnknownTracksError(missing)
        return by_track

    def recommend(self, req: RecommendationRequest) -> RecommendationResponse:
        seeds = self.seeds([*req.positive, *req.negative])
        weights = {m: float(req.weights.get(m, 1.0)) for m in MODALITIES}
        queries: dict[str, np.ndarray] = {}
        for name in MODALITIES:
            pos = [seeds[t].vectors[name] for t in req.positive if name in seeds[t].vectors]
            if weights[name] > 0 and pos:
                neg = [seeds[t].vectors[name] for t in req.negative if name in seeds[t].vectors]
                queries[name] = query_vector(pos, neg)
        if not queries:
            raise UnsupportedQueryError(
                "the seed tracks have no vectors in any modality with a weight above 0"
            )
        hits = self.store.fused_search(
            {k: v.tolist() for k, v in queries.items()},
            weights,
            limit=req.limit,
            offset=req.offset,
            flt=to_filter(req.filters, [point_id(t) for t in seeds]),
            fusion=self.fusion,  # type: ignore[arg-type]
            prefetch_limit=self.prefetch_limit,
            rrf_k=self.rrf_k,
            with_vectors=True,
        )
        return RecommendationResponse(
            items=[explain(h, queries) for h in hits],
            fusion=self.fusion,
            modalities=list(queries),
            weights={k: weights[k] for k in queries},
        )

    def _check_encoder(self, name: str, encoder: Encoder) -> None:
        """Refuse to compare a query vector with vectors made by another encoder."""
        if self._layout is None:
            self._layout = self.store.layout()
        stored = self._layout.vectors.get(name) if self._layout else None
        if stored is None:
            raise UnsupportedQueryError(f"the collection has no '{name}' vectors")
        if (stored.size, stored.encoder) != (encoder.dim, encoder.encoder_id):
            raise LayoutMismatchError(
                f"the collection's '{name}' vectors come from {stored.encoder} ({stored.size}-d) "
                f"but the API is configured with {encoder.encoder_id} ({encoder.dim}-d): "
                "re-index the collection with the configured encoder, or restore the settings"
            )

    def search_vector(
        self,
        name: str,
        encoder: Encoder,
        vector: np.ndarray,
        query: str,
        *,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> SearchResponse:
        self._check_encoder(name, encoder)
        q = _unit(vector.astype(np.float64))
        hits = self.store.search(
            name,
            q.tolist(),
            limit=limit,
            offset=offset,
            flt=to_filter(filters or Filters()),
            with_vectors=True,
        )
        return SearchResponse(
            query=query, modality=name, items=[explain(h, {name: q}) for h in hits]
        )

    def search_text(
        self,
        text: str,
        *,
        modality: str = LYRICS,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> SearchResponse:
        encoder = self.lyrics_encoder if modality == LYRICS else self.cover_encoder
        if encoder is None or not encoder.supports_text:
            raise UnsupportedQueryError(
                "text search on covers needs the CLIP cover encoder "
                "(MUSICREC_COVER_ENCODER=clip with MUSICREC_CLIP_CHECKPOINT); the configured "
                f"cover encoder ({getattr(encoder, 'encoder_id', 'none')}) embeds images only"
                if modality == COVER
                else "no lyrics encoder is configured"
            )
        vector = encoder.encode_text(text)
        return self.search_vector(
            modality, encoder, vector, text, limit=limit, offset=offset, filters=filters
        )

    def search_image(
        self,
        image: Image.Image,
        *,
        label: str,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
    ) -> SearchResponse:
        if self.cover_encoder is None:
            raise UnsupportedQueryError("no cover encoder is configured (MUSICREC_COVER_ENCODER)")
        [vector] = self.cover_encoder.encode([image])
        assert vector is not None
        return self.search_vector(
            COVER, self.cover_encoder, vector, label, limit=limit, offset=offset, filters=filters
        )
