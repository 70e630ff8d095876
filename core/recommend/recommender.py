"""Recommendation logic, free of HTTP, so the evaluation harness runs the very same code.

Seeds are looked up by id and their stored vectors become the query: Qdrant Edge cannot
query by point id, and computing the query here keeps both engines on one code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.collab.holder import ModelHolder
from core.collab.model import CollaborativeModel
from core.encoders.base import Encoder
from core.interactions.store import InteractionStore
from core.store import PointRecord, ScoredRecord, TrackFilter, VectorStore
from schemas.api import (
    Filters,
    Personalization,
    RecommendationItem,
    RecommendationRequest,
    RecommendationResponse,
    SearchResponse,
    TrackOut,
)
from schemas.layout import (
    COVER,
    LYRICS,
    LYRICS_TERMS,
    MODALITIES,
    CollectionLayout,
    LayoutMismatchError,
)
from schemas.tracks import Track, point_id
from schemas.vectors import SparseVector, Vector, cosine, mean_sparse

USER_SEEDS = 50  # a user's most recent tracks that seed their recommendations


class UnknownTracksError(LookupError):
    def __init__(self, track_ids: Sequence[str]) -> None:
        super().__init__(f"unknown track ids: {', '.join(track_ids)}")
        self.track_ids = list(track_ids)


class UnknownUserError(LookupError):
    """A user with no recorded interactions and unknown to the model: nothing to seed from."""


class UnsupportedQueryError(ValueError):
    """A query this collection or encoder cannot answer (HTTP 400/422, not a server fault)."""


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def query_vector(positive: list[Vector], negative: list[Vector]) -> Vector:
    """Dense: Qdrant's `average_vector` strategy, avg(pos) + (avg(pos) - avg(neg)).

    Sparse (term weights): the centroid of the positives; subtracting terms has no meaning
    for BM25, so negatives only act through the dense modalities.
    """
    if isinstance(positive[0], SparseVector):
        return mean_sparse([v for v in positive if isinstance(v, SparseVector)])
    pos = _unit(np.mean(np.asarray(positive, dtype=np.float64), axis=0))
    if not negative:
        return pos
    neg = _unit(np.mean(np.asarray(negative, dtype=np.float64), axis=0))
    return _unit(2 * pos - neg)


def to_filter(
    filters: Filters, exclude_ids: Sequence[str] = (), include_ids: Sequence[str] = ()
) -> TrackFilter:
    return TrackFilter(
        genres=filters.genres,
        year_min=filters.year_min,
        year_max=filters.year_max,
        explicit=filters.explicit,
        exclude_artists=filters.exclude_artists,
        exclude_ids=list(exclude_ids),
        include_ids=list(include_ids),
    )


def explain(hit: ScoredRecord, queries: dict[str, Vector]) -> RecommendationItem:
    """Per-modality similarity: fusion ranks by rank, so the raw cosines are recomputed here."""
    return RecommendationItem(
        track=TrackOut.from_payload(hit.payload),
        score=hit.score,
        similarities={
            name: round(cosine(q, hit.vectors[name]), 6) if name in hit.vectors else None
            for name, q in queries.items()
        },
    )


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def track_from_payload(payload: dict) -> Track:
    fields = {k: v for k, v in payload.items() if k in Track.model_fields and k != "id"}
    if "explicit" in fields:
        fields["explicit"] = bool(fields["explicit"])
    return Track(id=payload["track_id"], **fields)


def collaborative_scores(
    model: CollaborativeModel, user_id: str, hits: Sequence[ScoredRecord]
) -> np.ndarray:
    """LightFM scores for the candidates; tracks indexed after training are scored from
    their metadata features (cold start) instead of being left out."""
    scores = model.score(user_id, [h.payload["track_id"] for h in hits])
    cold = np.flatnonzero(np.isnan(scores))
    if len(cold):
        tracks = [track_from_payload(hits[i].payload) for i in cold]
        scores[cold] = model.score_tracks(user_id, tracks)
    return scores


def content_similarity(item: RecommendationItem, weights: dict[str, float]) -> float:
    """Weighted mean of the per-modality cosines the track has: unlike a fused RRF score it
    is comparable between candidates found by different queries (content and collaborative).
    """
    pairs = [(weights[m], s) for m, s in item.similarities.items() if s is not None]
    total = sum(w for w, _ in pairs)
    return sum(w * s for w, s in pairs) / total if total > 0 else 0.0


def blend(
    items: list[RecommendationItem],
    weights: dict[str, float],
    collab: np.ndarray | None,
    collab_weight: float,
) -> list[RecommendationItem]:
    """Both scores min-max normalized over the candidates, then mixed; sorted by the blend."""
    content = _minmax(np.array([content_similarity(i, weights) for i in items], dtype=np.float64))
    social = _minmax(collab.astype(np.float64)) if collab is not None else None
    mixed = content if social is None else (1 - collab_weight) * content + collab_weight * social
    for i, item in enumerate(items):
        item.content_score = round(float(content[i]), 6)
        item.collaborative_score = None if social is None else round(float(social[i]), 6)
        item.blended_score = round(float(mixed[i]), 6)
    order = np.argsort(-mixed, kind="stable")
    return [items[i] for i in order]


@dataclass(frozen=True)
class SeedQuery:
    """What a seeded recommendation asks, resolved: the seed points, the weight of every
    modality, and the tracks that must not come back (the seeds, a user's history)."""

    positive: Sequence[str]
    negative: Sequence[str]
    seeds: dict[str, PointRecord]
    weights: dict[str, float]
    filters: Filters
    exclude: Sequence[str]


@dataclass
class Recommender:
    store: VectorStore
    lyrics_encoder: Encoder | None
    cover_encoder: Encoder | None = None
    terms_encoder: Encoder | None = None
    fusion: str = "rrf"
    rrf_k: int = 60
    prefetch_limit: int = 200
    default_weights: dict[str, float] = field(default_factory=dict)
    collab: ModelHolder | None = None
    history: InteractionStore | None = None
    collab_weight: float = 0.5
    candidate_pool: int = 200
    _layout: CollectionLayout | None = field(default=None, init=False, repr=False)

    # --- seeds and candidates --------------------------------------------------------------
    def seeds(self, track_ids: Sequence[str], *, strict: bool = True) -> dict[str, PointRecord]:
        """Stored points for the ids, by track id; with `strict`, all must exist."""
        found = self.store.retrieve([point_id(t) for t in track_ids], with_vectors=True)
        by_track = {r.payload["track_id"]: r for r in found}
        missing = [t for t in dict.fromkeys(track_ids) if t not in by_track]
        if missing and strict:
            raise UnknownTracksError(missing)
        return by_track

    def weights(self, requested: dict[str, float]) -> dict[str, float]:
        return {m: float(requested.get(m, self.default_weights.get(m, 1.0))) for m in MODALITIES}

    def seed_query(
        self,
        positive: Sequence[str],
        negative: Sequence[str],
        seeds: dict[str, PointRecord],
        weights: dict[str, float],
        filters: Filters,
        exclude: Sequence[str],
    ) -> SeedQuery:
        """Requested weights completed with the defaults, once for every search it makes."""
        return SeedQuery(positive, negative, seeds, self.weights(weights), filters, exclude)

    def candidates(
        self,
        q: SeedQuery,
        *,
        limit: int,
        offset: int,
        only_track_ids: Sequence[str] = (),
    ) -> tuple[list[ScoredRecord], dict[str, Vector]]:
        """One prefetch per modality the seeds have (and that weighs > 0), fused in Qdrant;
        `only_track_ids` restricts the search to those tracks (filters still apply)."""
        queries: dict[str, Vector] = {}
        for name in MODALITIES:
            pos = [q.seeds[t].vectors[name] for t in q.positive if name in q.seeds[t].vectors]
            if q.weights[name] > 0 and pos:
                neg = [q.seeds[t].vectors[name] for t in q.negative if name in q.seeds[t].vectors]
                queries[name] = query_vector(pos, neg)
        if not queries:
            raise UnsupportedQueryError(
                "the seed tracks have no vectors in any modality with a weight above 0"
            )
        hits = self.store.fused_search(
            {k: v if isinstance(v, SparseVector) else v.tolist() for k, v in queries.items()},
            q.weights,
            limit=limit,
            offset=offset,
            flt=to_filter(
                q.filters,
                [point_id(t) for t in q.exclude],
                [point_id(t) for t in only_track_ids],
            ),
            fusion=self.fusion,  # type: ignore[arg-type]
            prefetch_limit=self.prefetch_limit,
            rrf_k=self.rrf_k,
            with_vectors=True,
        )
        return hits, queries

    def _answer(
        self,
        q: SeedQuery,
        *,
        limit: int,
        offset: int,
        user_id: str | None,
        collab_weight: float | None,
    ) -> RecommendationResponse:
        weights = q.weights
        personal = user_id is not None
        # Reranking needs a candidate pool wider than the page, cut after the blend.
        pool = max(self.candidate_pool, offset + limit) if personal else limit
        hits, queries = self.candidates(q, limit=pool, offset=0 if personal else offset)
        items = [explain(h, queries) for h in hits]
        response_weights = {k: weights[k] for k in queries}
        if not personal:
            return RecommendationResponse(
                items=items, fusion=self.fusion, modalities=list(queries), weights=response_weights
            )
        w = self.collab_weight if collab_weight is None else collab_weight
        model = self.collab.current() if self.collab else None
        status = "no-model" if model is None else "applied"
        scores = None
        if model is not None and user_id is not None:
            if model.has_user(user_id):
                # The model's own favourites join the pool: content retrieval alone would cap
                # the hybrid at what the fused query happened to find (docs/evaluation.md).
                found = {h.payload["track_id"] for h in hits} | set(q.exclude)
                extra = [t for t, _ in model.recommend(user_id, pool) if t not in found]
                if extra and w > 0:
                    more, _ = self.candidates(q, limit=len(extra), offset=0, only_track_ids=extra)
                    hits = [*hits, *more]
                    items += [explain(h, queries) for h in more]
                if hits:
                    scores = collaborative_scores(model, user_id, hits)
            else:
                status = "unknown-user"
        ranked = blend(items, weights, scores, w)[offset : offset + limit]
        return RecommendationResponse(
            items=ranked,
            fusion=self.fusion,
            modalities=list(queries),
            weights=response_weights,
            personalization=Personalization(
                user_id=user_id,
                status=status,  # type: ignore[arg-type]
                collab_weight=w if scores is not None else 0.0,
                model_version=self.collab.version if self.collab else None,
            ),
        )

    def recommend(self, req: RecommendationRequest) -> RecommendationResponse:
        seeds = self.seeds([*req.positive, *req.negative])
        q = self.seed_query(
            req.positive, req.negative, seeds, req.weights, req.filters, list(seeds)
        )
        return self._answer(
            q,
            limit=req.limit,
            offset=req.offset,
            user_id=req.user_id,
            collab_weight=req.collab_weight,
        )

    def recommend_for_user(
        self,
        user_id: str,
        *,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
        weights: dict[str, float] | None = None,
        collab_weight: float | None = None,
    ) -> RecommendationResponse:
        """Seeded by the user's most recent tracks; everything they already know excluded."""
        recent = self.history.recent(user_id) if self.history else []
        model = self.collab.current() if self.collab else None
        known = sorted(model.known_items(user_id)) if model and model.has_user(user_id) else []
        history = list(dict.fromkeys([*recent, *known]))
        if not history:
            raise UnknownUserError(f"user '{user_id}' has no interactions yet")
        seeds = self.seeds(history[:USER_SEEDS], strict=False)
        if not seeds:
            raise UnknownUserError(f"none of user '{user_id}''s tracks is in the collection")
        q = self.seed_query(list(seeds), [], seeds, weights or {}, filters or Filters(), history)
        return self._answer(
            q,
            limit=limit,
            offset=offset,
            user_id=user_id,
            collab_weight=collab_weight,
        )

    # --- search ------------------------------------------------------------------------
    def layout(self) -> CollectionLayout | None:
        if self._layout is None:
            self._layout = self.store.layout()
        return self._layout

    def _check_encoder(self, name: str, encoder: Encoder) -> None:
        """Refuse to compare a query vector with vectors made by another encoder."""
        layout = self.layout()
        stored = layout.vectors.get(name) if layout else None
        if stored is None:
            raise UnsupportedQueryError(f"the collection has no '{name}' vectors")
        if (stored.size, stored.encoder) != (encoder.dim, encoder.encoder_id):
            raise LayoutMismatchError(
                f"the collection's '{name}' vectors come from {stored.encoder} ({stored.size}-d) "
                f"but the API is configured with {encoder.encoder_id} ({encoder.dim}-d): "
                "re-index the collection with the configured encoder, or restore the settings"
            )

    def _has_terms(self) -> bool:
        layout = self.layout()
        spec = layout.sparse_vectors.get(LYRICS_TERMS) if layout else None
        return (
            self.terms_encoder is not None
            and spec is not None
            and spec.encoder == self.terms_encoder.encoder_id
        )

    def _search(
        self,
        queries: dict[str, Vector],
        weights: dict[str, float],
        label: str,
        modality: str,
        *,
        limit: int,
        offset: int,
        filters: Filters | None,
    ) -> SearchResponse:
        flt = to_filter(filters or Filters())
        if len(queries) == 1:
            [(name, vector)] = queries.items()
            hits = self.store.search(
                name, vector, limit=limit, offset=offset, flt=flt, with_vectors=True
            )
        else:
            hits = self.store.fused_search(
                queries,
                weights,
                limit=limit,
                offset=offset,
                flt=flt,
                fusion=self.fusion,  # type: ignore[arg-type]
                prefetch_limit=self.prefetch_limit,
                rrf_k=self.rrf_k,
                with_vectors=True,
            )
        return SearchResponse(
            query=label, modality=modality, items=[explain(h, queries) for h in hits]
        )

    def search_text(
        self,
        text: str,
        *,
        modality: str = LYRICS,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
        weights: dict[str, float] | None = None,
    ) -> SearchResponse:
        """Lyrics: the dense embedding fused with BM25 terms (when indexed); covers: CLIP."""
        encoder = self.lyrics_encoder if modality == LYRICS else self.cover_encoder
        if encoder is None or not encoder.supports_text:
            raise UnsupportedQueryError(
                "text search on covers needs the CLIP cover encoder "
                "(MUSICREC_COVER_ENCODER=clip with MUSICREC_CLIP_CHECKPOINT); the configured "
                f"cover encoder ({getattr(encoder, 'encoder_id', 'none')}) embeds images only"
                if modality == COVER
                else "no lyrics encoder is configured"
            )
        self._check_encoder(modality, encoder)
        w = self.weights(weights or {})
        queries: dict[str, Vector] = {}
        if w[modality] > 0:
            queries[modality] = _unit(encoder.encode_text(text).astype(np.float64)).tolist()
        if modality == LYRICS and w[LYRICS_TERMS] > 0 and self._has_terms():
            assert self.terms_encoder is not None
            terms = self.terms_encoder.encode_text(text)
            if terms:
                queries[LYRICS_TERMS] = terms
        if not queries:
            raise UnsupportedQueryError("every lyrics modality has weight 0")
        return self._search(queries, w, text, modality, limit=limit, offset=offset, filters=filters)

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
        self._check_encoder(COVER, self.cover_encoder)
        [vector] = self.cover_encoder.encode([image])
        assert vector is not None
        return self._search(
            {COVER: _unit(np.asarray(vector, dtype=np.float64)).tolist()},
            {},
            label,
            COVER,
            limit=limit,
            offset=offset,
            filters=filters,
        )
