"""Search by free text (lyrics, or covers with CLIP) and by image, on the same engine query
the recommender uses; query vectors are compared only with vectors of the same encoder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from core.encoders.base import Encoder
from core.recommend.errors import UnsupportedQueryError
from core.recommend.query import to_filter, unit
from core.recommend.results import RankedTrack, SearchResult
from core.recommend.seeds import complete_weights
from core.recommend.signals import Similarity, sparse_names
from core.recommend.sources import ContentSource
from core.recommend.ties import stable_top
from schemas.api import Filters
from schemas.layout import COVER, LYRICS, LYRICS_TERMS, CollectionLayout, LayoutMismatchError
from schemas.vectors import SparseVector, Vector


@dataclass
class Searcher:
    content: ContentSource  # the engine query, shared with the recommender
    lyrics_encoder: Encoder[Any] | None
    cover_encoder: Encoder[Any] | None = None
    terms_encoder: Encoder[Any] | None = None
    default_weights: Mapping[str, float] = field(default_factory=dict)
    _layout: CollectionLayout | None = field(default=None, init=False, repr=False)

    def layout(self) -> CollectionLayout | None:
        if self._layout is None:
            self._layout = self.content.store.layout()
        return self._layout

    def _check_encoder(self, name: str, encoder: Encoder[Any]) -> None:
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
    ) -> SearchResult:
        flt = to_filter(filters or Filters())
        if len(queries) == 1:
            [(name, vector)] = queries.items()
            hits = stable_top(
                lambda n: self.content.store.search(
                    name, vector, limit=n, flt=flt, with_vectors=sparse_names(queries)
                ),
                limit,
                offset,
            )
        else:
            hits = self.content.fused(queries, weights, flt, limit, offset)
        sims = Similarity(self.content.store, queries).many(hits)
        items = [
            RankedTrack.from_payload(h.payload, score=h.score, similarities=s)
            for h, s in zip(hits, sims, strict=True)
        ]
        return SearchResult(query=label, modality=modality, items=items)

    def search_text(
        self,
        text: str,
        *,
        modality: str = LYRICS,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> SearchResult:
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
        w = complete_weights(weights or {}, self.default_weights)
        queries: dict[str, Vector] = {}
        if w[modality] > 0:
            queries[modality] = unit(encoder.encode_text(text).astype(np.float64)).tolist()
        if modality == LYRICS and w[LYRICS_TERMS] > 0 and self._has_terms():
            assert self.terms_encoder is not None
            terms = self.terms_encoder.encode_text(text)
            if isinstance(terms, SparseVector) and terms:
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
    ) -> SearchResult:
        if self.cover_encoder is None:
            raise UnsupportedQueryError("no cover encoder is configured (MUSICREC_COVER_ENCODER)")
        self._check_encoder(COVER, self.cover_encoder)
        [vector] = self.cover_encoder.encode([image])
        assert vector is not None
        return self._search(
            {COVER: unit(np.asarray(vector, dtype=np.float64)).tolist()},
            {},
            label,
            COVER,
            limit=limit,
            offset=offset,
            filters=filters,
        )
