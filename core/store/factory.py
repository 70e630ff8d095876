"""Settings → the store for the configured engine (the composition root's one call)."""

from __future__ import annotations

from core.store.base import VectorStore
from schemas.settings import Settings


def open_store(settings: Settings) -> VectorStore:
    tuning = dict(
        hnsw_m=settings.hnsw_m,
        hnsw_ef_construct=settings.hnsw_ef_construct,
        hnsw_ef=settings.hnsw_ef,
        exact_search_below=settings.exact_search_below,
        quantization=settings.quantization,
        quantization_oversampling=settings.quantization_oversampling,
    )
    if settings.engine == "edge":
        from core.store.edge import EdgeStore

        assert settings.qdrant_path is not None
        return EdgeStore(settings.qdrant_path, settings.collection, **tuning)

    from qdrant_client import QdrantClient

    from core.store.client import ClientStore

    if settings.engine == "memory":
        client = QdrantClient(location=":memory:")
    else:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(
            url=settings.qdrant_url, api_key=api_key, timeout=settings.qdrant_timeout
        )
    return ClientStore(client, settings.collection, engine=settings.engine, **tuning)
