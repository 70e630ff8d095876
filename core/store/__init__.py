"""One interface over the two Qdrant engines (Qdrant Edge in-process, qdrant-client to a server)."""

from core.store.base import (
    PointRecord,
    ScoredRecord,
    StoreError,
    StoreLockedError,
    StoreUnavailableError,
    TrackFilter,
    VectorStore,
)
from core.store.factory import open_store

__all__ = [
    "PointRecord",
    "ScoredRecord",
    "StoreError",
    "StoreLockedError",
    "StoreUnavailableError",
    "TrackFilter",
    "VectorStore",
    "open_store",
]
