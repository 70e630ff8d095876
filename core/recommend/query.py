"""Seed vectors → query vectors, and request filters → the store's filter.

Seeds are looked up by id and their stored vectors become the query: Qdrant Edge cannot
query by point id, and computing the query here keeps both engines on one code path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.store import TrackFilter
from schemas.api import Filters
from schemas.tracks import point_id
from schemas.vectors import SparseVector, Vector, mean_sparse


def unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)


def query_vector(positive: list[Vector], negative: list[Vector]) -> Vector:
    """Dense: Qdrant's `average_vector` strategy, avg(pos) + (avg(pos) - avg(neg)).

    Sparse (term weights): the centroid of the positives; subtracting terms has no meaning
    for BM25, so negatives only act through the dense modalities.
    """
    if isinstance(positive[0], SparseVector):
        return mean_sparse([v for v in positive if isinstance(v, SparseVector)])
    pos = unit(np.mean(np.asarray(positive, dtype=np.float64), axis=0))
    if not negative:
        return list(pos.tolist())
    neg = unit(np.mean(np.asarray(negative, dtype=np.float64), axis=0))
    return list(unit(2 * pos - neg).tolist())


def to_filter(
    filters: Filters, exclude_tracks: Sequence[str] = (), include_tracks: Sequence[str] = ()
) -> TrackFilter:
    return TrackFilter(
        genres=filters.genres,
        year_min=filters.year_min,
        year_max=filters.year_max,
        explicit=filters.explicit,
        exclude_artists=filters.exclude_artists,
        exclude_ids=[point_id(t) for t in exclude_tracks],
        include_ids=[point_id(t) for t in include_tracks],
    )


def passes(filters: Filters, payload: Mapping[str, Any]) -> bool:
    """The request filters on a stored payload, for candidates that did not come from a
    filtered engine query (collaborative ones are fetched by id). Same semantics as the
    engines' filter (tests/core/recommend/sources/test_contract.py checks both agree)."""
    if filters.genres and payload.get("genre") not in filters.genres:
        return False
    year = payload.get("year")
    if filters.year_min is not None and (year is None or year < filters.year_min):
        return False
    if filters.year_max is not None and (year is None or year > filters.year_max):
        return False
    explicit = payload.get("explicit")
    if filters.explicit is not None and (explicit is None or bool(explicit) != filters.explicit):
        return False
    return not set(filters.exclude_artists) & set(payload.get("artists") or ())
