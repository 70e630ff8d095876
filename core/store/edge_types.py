"""The store contract's types in Qdrant Edge's: distances, payload index types, filters and
vectors. Kept apart from `core.store.edge` (the adapter's operations) so that the mapping to
the engine's Python types is read, and changed for a new engine version, in one place."""

from __future__ import annotations

from typing import Any

import qdrant_edge as qe

from core.store.base import Condition, TrackFilter, engine_filter, engine_vector, stored_vectors
from schemas.vectors import Vector

DISTANCES = {"cosine": qe.Distance.Cosine, "dot": qe.Distance.Dot, "euclid": qe.Distance.Euclid}
PAYLOAD_TYPES = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
}


def condition(cond: Condition) -> Any:
    kind, key, value = cond
    if kind == "ids":
        return qe.HasIdCondition(set(value))
    assert key is not None
    if kind == "any":
        return qe.FieldCondition(key=key, match=qe.MatchAny(value))
    if kind == "range":
        lo, hi = value
        return qe.FieldCondition(key=key, range=qe.RangeFloat(gte=lo, lte=hi))
    return qe.FieldCondition(key=key, match=qe.MatchValue(value))


def to_filter(flt: TrackFilter | None) -> qe.Filter | None:
    return engine_filter(flt, condition, qe.Filter)


def to_engine(v: Vector) -> Any:
    return engine_vector(v, qe.SparseVector)


def vectors_of(raw: Any) -> dict[str, Vector]:
    return stored_vectors(raw, qe.SparseVector)
