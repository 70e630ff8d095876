"""qdrant-client adapter: a Qdrant server at QDRANT_URL (docker-compose), or qdrant-client's
in-process local mode (`:memory:`), which runs this same code path in tests.

Collection metadata uses Qdrant's own collection `metadata`, so it is visible in the console.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ParamSpec, TypeVar

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from core.store.base import (
    Condition,
    Fusion,
    PointRecord,
    Quantization,
    ScoredRecord,
    StoreError,
    StoreTuning,
    StoreUnavailableError,
    TrackFilter,
    VectorStore,
    WithVectors,
    engine_filter,
    engine_vector,
    stored_vectors,
    vector_selection,
)
from core.store.cluster import ClusterConfig
from schemas.layout import CollectionLayout
from schemas.vectors import Vector

_DISTANCES = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
}
_PAYLOAD_TYPES = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "float": models.PayloadSchemaType.FLOAT,
    "bool": models.PayloadSchemaType.BOOL,
}

P = ParamSpec("P")
R = TypeVar("R")


def _translate_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Server down or slow → StoreUnavailableError (HTTP 503 upstream); other errors stay loud."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (
            ResponseHandlingException,
            httpx.TransportError,
            ConnectionError,
            TimeoutError,
        ) as exc:
            raise StoreUnavailableError(f"Qdrant server unavailable: {exc}") from exc
        except UnexpectedResponse as exc:
            if exc.status_code is not None and exc.status_code >= 500:
                raise StoreUnavailableError(f"Qdrant server error: {exc}") from exc
            raise StoreError(f"Qdrant refused the request: {exc}") from exc

    return wrapper


def _condition(cond: Condition) -> Any:
    kind, key, value = cond
    if kind == "ids":
        return models.HasIdCondition(has_id=value)
    assert key is not None
    if kind == "any":
        return models.FieldCondition(key=key, match=models.MatchAny(any=value))
    if kind == "range":
        lo, hi = value
        return models.FieldCondition(key=key, range=models.Range(gte=lo, lte=hi))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _filter(flt: TrackFilter | None) -> models.Filter | None:
    return engine_filter(flt, _condition, models.Filter)


def _to_engine(v: Vector) -> Any:
    return engine_vector(v, lambda i, v: models.SparseVector(indices=i, values=v))


def _vectors(raw: Any) -> dict[str, Vector]:
    return stored_vectors(raw, models.SparseVector)


def _record(r: models.Record) -> PointRecord:
    return PointRecord(str(r.id), _vectors(r.vector), r.payload or {})


class ClientStore(VectorStore):
    engine = "server"

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        engine: str = "server",
        cluster: ClusterConfig | None = None,
        **tuning: Any,
    ) -> None:
        """`tuning`: the fields of `StoreTuning` (the settings' defaults where not given)."""
        self.client = client
        self.cluster = cluster or ClusterConfig()
        self.collection = collection
        self.engine = engine
        self.tuning = StoreTuning(**tuning)
        self._approximate = models.QuantizationSearchParams(
            rescore=True, oversampling=self.tuning.quantization_oversampling
        )
        self._exact: bool | None = None  # decided from the point count, refreshed on writes

    # --- lifecycle --------------------------------------------------------------------
    @_translate_errors
    def exists(self) -> bool:
        return self.client.collection_exists(self.collection)

    @_translate_errors
    def create(self, layout: CollectionLayout, metadata: dict[str, Any]) -> None:
        m, ef_construct = self.tuning.hnsw_m, self.tuning.hnsw_ef_construct
        quantized = self.tuning.quantized
        self.client.create_collection(
            self.collection,
            vectors_config={
                name: models.VectorParams(
                    size=spec.size, distance=_DISTANCES[spec.distance], on_disk=quantized or None
                )
                for name, spec in layout.vectors.items()
            },
            sparse_vectors_config={
                name: models.SparseVectorParams(
                    modifier=models.Modifier.IDF if spec.modifier == "idf" else None
                )
                for name, spec in layout.sparse_vectors.items()
            },
            hnsw_config=models.HnswConfigDiff(m=m, ef_construct=ef_construct),
            quantization_config=models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(
                    type=models.ScalarType.INT8, quantile=0.99, always_ram=True
                )
            )
            if quantized
            else None,
            metadata={**metadata, **self.cluster.metadata(), "layout": layout.model_dump()},
            **self.cluster.creation_args(),
        )
        for field, kind in layout.payload_indexes.items():
            self.client.create_payload_index(
                self.collection, field, field_schema=_PAYLOAD_TYPES[kind], wait=True
            )

    @_translate_errors
    def read_metadata(self) -> dict[str, Any]:
        if not self.client.collection_exists(self.collection):
            return {}
        return dict(self.client.get_collection(self.collection).config.metadata or {})

    @_translate_errors
    def write_metadata(self, metadata: dict[str, Any]) -> None:
        # Qdrant merges metadata keys on update; clear removed keys explicitly with None.
        stale = {k: None for k in self.read_metadata() if k not in metadata}
        self.client.update_collection(self.collection, metadata={**stale, **metadata})

    @_translate_errors
    def quantization(self) -> Quantization:
        config = self.client.get_collection(self.collection).config.quantization_config
        return "int8" if isinstance(config, models.ScalarQuantization) else "none"

    @_translate_errors
    def drop(self) -> None:
        self.client.delete_collection(self.collection)

    def close(self) -> None:
        self.client.close()

    def optimize(self) -> None:
        """Nothing to do: a Qdrant server runs its optimizers in the background."""

    # --- points -----------------------------------------------------------------------
    @_translate_errors
    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        self.client.upsert(
            self.collection,
            points=[
                models.PointStruct(
                    id=p.id,
                    vector={k: _to_engine(v) for k, v in p.vectors.items()},
                    payload=p.payload,
                )
                for p in points
            ],
            wait=True,
            ordering=self.cluster.ordering(),
        )
        self._exact = None

    @_translate_errors
    def set_payload(self, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        self.client.set_payload(
            self.collection,
            payload=payload,
            points=list(point_ids),
            wait=True,
            ordering=self.cluster.ordering(),
        )

    @_translate_errors
    def delete(self, point_ids: Sequence[str]) -> None:
        self.client.delete(
            self.collection,
            points_selector=models.PointIdsList(points=list(point_ids)),
            wait=True,
            ordering=self.cluster.ordering(),
        )
        self._exact = None

    @_translate_errors
    def retrieve(
        self, point_ids: Sequence[str], with_vectors: WithVectors = False
    ) -> list[PointRecord]:
        if not point_ids:
            return []
        records = self.client.retrieve(
            self.collection,
            ids=list(point_ids),
            with_payload=True,
            with_vectors=vector_selection(with_vectors),
            consistency=self.cluster.consistency(),
        )
        return [_record(r) for r in records]

    @_translate_errors
    def count(self, flt: TrackFilter | None = None) -> int:
        return self.client.count(self.collection, count_filter=_filter(flt), exact=True).count

    def scroll(
        self, batch_size: int = 256, with_vectors: bool = False, start: str | None = None
    ) -> Iterator[list[PointRecord]]:
        offset: Any = start
        while True:
            records, offset = _translate_errors(self.client.scroll)(
                self.collection,
                limit=batch_size,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
                consistency=self.cluster.consistency(),
            )
            if records:
                yield [_record(r) for r in records]
            if offset is None:
                return

    # --- search -----------------------------------------------------------------------
    def _params(self) -> models.SearchParams:
        if self._exact is None:
            self._exact = self.count() < self.tuning.exact_search_below
        quantization = (
            models.QuantizationSearchParams(ignore=True) if self._exact else self._approximate
        )
        return models.SearchParams(
            hnsw_ef=self.tuning.hnsw_ef, exact=self._exact, quantization=quantization
        )

    @staticmethod
    def _scored(points: list[models.ScoredPoint]) -> list[ScoredRecord]:
        return [
            ScoredRecord(str(p.id), float(p.score), p.payload or {}, _vectors(p.vector))
            for p in points
        ]

    @_translate_errors
    def search(
        self,
        vector_name: str,
        vector: Vector,
        limit: int,
        offset: int = 0,
        flt: TrackFilter | None = None,
        with_vectors: WithVectors = False,
    ) -> list[ScoredRecord]:
        response = self.client.query_points(
            self.collection,
            query=_to_engine(vector),
            using=vector_name,
            query_filter=_filter(flt),
            search_params=self._params(),
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=vector_selection(with_vectors),
            consistency=self.cluster.consistency(),
        )
        return self._scored(response.points)

    @_translate_errors
    def fused_search(
        self,
        queries: dict[str, Vector],
        weights: dict[str, float],
        limit: int,
        offset: int = 0,
        flt: TrackFilter | None = None,
        fusion: Fusion = "rrf",
        prefetch_limit: int = 200,
        rrf_k: int = 60,
        with_vectors: WithVectors = False,
    ) -> list[ScoredRecord]:
        names = list(queries)
        server_filter = _filter(flt)
        params = self._params()
        prefetch = [
            models.Prefetch(
                query=_to_engine(queries[name]),
                using=name,
                filter=server_filter,
                params=params,
                limit=max(prefetch_limit, limit + offset),
            )
            for name in names
        ]
        query: models.RrfQuery | models.FusionQuery = (
            models.RrfQuery(
                rrf=models.Rrf(k=rrf_k, weights=[float(weights.get(n, 1.0)) for n in names])
            )
            if fusion == "rrf"
            else models.FusionQuery(fusion=models.Fusion.DBSF)
        )
        response = self.client.query_points(
            self.collection,
            prefetch=prefetch,
            query=query,
            query_filter=server_filter,
            limit=limit,
            offset=offset,
            with_payload=True,
            with_vectors=vector_selection(with_vectors),
            consistency=self.cluster.consistency(),
        )
        return self._scored(response.points)

    @_translate_errors
    def score_points(
        self, vector_name: str, vector: Vector, point_ids: Sequence[str]
    ) -> dict[str, float]:
        ids = sorted(set(point_ids))
        if not ids:
            return {}
        response = self.client.query_points(
            self.collection,
            query=_to_engine(vector),
            using=vector_name,
            query_filter=models.Filter(must=[models.HasIdCondition(has_id=list(ids))]),
            search_params=models.SearchParams(
                exact=True, quantization=models.QuantizationSearchParams(ignore=True)
            ),
            limit=len(ids),
            with_payload=False,
            with_vectors=False,
            consistency=self.cluster.consistency(),
        )
        return {str(p.id): float(p.score) for p in response.points}
