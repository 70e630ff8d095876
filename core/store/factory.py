"""Settings → the store for the configured engine (the composition root's one call)."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from core.store.base import StoreTuning, VectorStore
from core.store.cluster import ClusterConfig
from schemas.settings import Settings

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

log = logging.getLogger(__name__)


def _tuning(settings: Settings, **overrides: Any) -> dict[str, Any]:
    return asdict(StoreTuning.from_settings(settings, **overrides))


def open_store(settings: Settings) -> VectorStore:
    tuning = _tuning(settings)
    cluster = ClusterConfig.from_settings(settings)
    if settings.engine == "edge":
        from core.store.edge import EdgeStore

        if not cluster.is_default():
            log.info("Qdrant Edge is one local shard: cluster settings %s are ignored", cluster)
        assert settings.qdrant_path is not None
        return EdgeStore(settings.qdrant_path, settings.collection, **tuning)

    from core.store.client import ClientStore

    return ClientStore(
        server_client(settings),
        settings.collection,
        engine=settings.engine,
        cluster=cluster,
        **tuning,
    )


def open_server_store(
    settings: Settings, url: str, collection: str, **overrides: Any
) -> VectorStore:
    """A collection at another address than the configured one (a migration's target),
    with the configured tuning and cluster settings unless `overrides` says otherwise."""
    from core.store.client import ClientStore

    tuning = _tuning(settings, **overrides)
    cluster = ClusterConfig.from_settings(settings)
    engine = "local" if url.startswith("file://") else "server"
    client = server_client(settings, url)
    return ClientStore(client, collection, engine=engine, cluster=cluster, **tuning)


def server_client(settings: Settings, url: str | None = None) -> QdrantClient:
    """A qdrant-client for `url` (default: the configured one): a server URL, ':memory:', or
    `file:///abs/dir`, qdrant-client's on-disk local mode (one process at a time; what the
    migrate test copies into)."""
    from qdrant_client import QdrantClient

    url = url if url is not None else settings.qdrant_url
    assert url is not None
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    if url.startswith("file://"):
        return QdrantClient(path=url.removeprefix("file://"))
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    # Annotated `int` by qdrant-client; its transports (httpx, grpc) take fractional seconds.
    timeout = settings.qdrant_timeout
    return QdrantClient(url=url, api_key=api_key, timeout=timeout)  # type: ignore[arg-type]
