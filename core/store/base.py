"""The store contract both engine adapters implement.

Callers speak in track-level terms (named vectors, a `TrackFilter`, collection metadata);
each adapter translates to its engine's own classes. Qdrant Edge's Python classes are not
qdrant-client's models, which is why nothing outside `core/store/` imports either engine.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from core.store.priority import QueryPriority
from schemas.layout import CollectionLayout
from schemas.settings import Settings
from schemas.settings.store import StoreSettings
from schemas.vectors import SparseVector, Vector

_SETTING = StoreSettings.model_fields


class StoreError(RuntimeError):
    """Base for store failures the API and CLI translate into user-facing errors."""


class StoreUnavailableError(StoreError):
    """The engine cannot be reached (server down, timeout): retry later, maps to HTTP 503."""


class StoreLockedError(StoreError):
    """The embedded shard is open in another process (only one process may own it)."""


@dataclass(frozen=True)
class PointRecord:
    """A point as written and read: id is the UUID string from `schemas.tracks.point_id`."""

    id: str
    vectors: dict[str, Vector] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoredRecord:
    id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, Vector] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackFilter:
    """The filters the API offers, independent of engine syntax. Empty means no condition."""

    genres: Sequence[str] = ()
    year_min: int | None = None
    year_max: int | None = None
    explicit: bool | None = None
    exclude_artists: Sequence[str] = ()
    artists: Sequence[str] = ()  # non-empty: only tracks by one of these artists
    exclude_ids: Sequence[str] = ()  # point ids
    include_ids: Sequence[str] = ()  # point ids; non-empty restricts results to these

    def is_empty(self) -> bool:
        return not (
            self.genres
            or self.year_min is not None
            or self.year_max is not None
            or self.explicit is not None
            or self.exclude_artists
            or self.artists
            or self.exclude_ids
            or self.include_ids
        )


Fusion = Literal["rrf", "dbsf"]
# Which named vectors a read returns: all (True), none (False) or the ones named.
WithVectors = bool | Sequence[str]
Quantization = Literal["none", "int8"]


@dataclass(frozen=True)
class StoreTuning:
    """How a collection is built and searched, the same for both engines; the defaults are
    the settings' (`schemas.settings.store`). Each adapter takes these as keyword arguments."""

    hnsw_m: int = _SETTING["hnsw_m"].default
    hnsw_ef_construct: int = _SETTING["hnsw_ef_construct"].default
    hnsw_ef: int = _SETTING["hnsw_ef"].default
    exact_search_below: int = _SETTING["exact_search_below"].default
    quantization: Quantization = _SETTING["quantization"].default
    quantization_oversampling: float = _SETTING["quantization_oversampling"].default

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> StoreTuning:
        values = {f.name: getattr(settings, f.name) for f in fields(cls)}
        return cls(**{**values, **overrides})

    @property
    def quantized(self) -> bool:
        return self.quantization == "int8"


class VectorStore(ABC):
    """One collection in one engine."""

    engine: str
    collection: str

    # --- lifecycle and layout -----------------------------------------------------------
    @abstractmethod
    def exists(self) -> bool: ...

    @abstractmethod
    def create(self, layout: CollectionLayout, metadata: dict[str, Any]) -> None:
        """Create the collection with its vectors, payload indexes and metadata."""

    @abstractmethod
    def read_metadata(self) -> dict[str, Any]:
        """Metadata stored with the collection (layout, audio scaler, …); {} if none."""

    @abstractmethod
    def write_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace the collection's metadata atomically."""

    def layout(self) -> CollectionLayout | None:
        raw = self.read_metadata().get("layout")
        try:
            return CollectionLayout.model_validate(raw) if raw else None
        except ValidationError as exc:
            raise StoreError(
                f"collection '{self.collection}' has a damaged layout in its metadata: "
                f"{exc.error_count()} errors, first {exc.errors()[0]['msg']!r} at "
                f"{'.'.join(map(str, exc.errors()[0]['loc'])) or 'layout'}; re-index it"
            ) from exc

    @abstractmethod
    def quantization(self) -> Quantization:
        """The quantization the engine reports for the collection (set at creation)."""

    @abstractmethod
    def drop(self) -> None:
        """Delete the collection and its metadata."""

    @abstractmethod
    def close(self) -> None: ...

    def local_files(self) -> list[Path]:
        """The files this process reads the collection from (the embedded shard's), for
        `core.store.preload`; none for a server, which keeps its own files warm."""
        return []

    def yield_to_requests(self, priority: QueryPriority) -> None:
        """Make the queries of background work wait for requests (`core.store.priority`):
        needed by an engine inside this process, which holds the GIL while it searches; a
        server's client waits on a socket, which releases it, so the base does nothing."""
        del priority

    # --- points -------------------------------------------------------------------------
    @abstractmethod
    def upsert(self, points: Sequence[PointRecord]) -> None:
        """Insert or overwrite points (vectors and payload replaced whole)."""

    @abstractmethod
    def set_payload(self, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        """Merge `payload` into the payload of existing points."""

    @abstractmethod
    def delete(self, point_ids: Sequence[str]) -> None: ...

    @abstractmethod
    def retrieve(
        self, point_ids: Sequence[str], with_vectors: WithVectors = False
    ) -> list[PointRecord]:
        """The points that exist among `point_ids` (missing ids are left out), any order."""

    @abstractmethod
    def count(self, flt: TrackFilter | None = None) -> int: ...

    @abstractmethod
    def scroll(
        self, batch_size: int = 256, with_vectors: bool = False, start: str | None = None
    ) -> Iterator[list[PointRecord]]:
        """Every point, in batches, in the engine's point-id order (evaluation, exports).

        `start` resumes at that point id, inclusive (a migration's checkpoint)."""

    # --- search -------------------------------------------------------------------------
    @abstractmethod
    def search(
        self,
        vector_name: str,
        vector: Vector,
        limit: int,
        offset: int = 0,
        flt: TrackFilter | None = None,
        with_vectors: WithVectors = False,
    ) -> list[ScoredRecord]:
        """Nearest neighbours on one named vector (dense, or sparse with IDF applied)."""

    @abstractmethod
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
        """One prefetch per named vector in `queries`, fused inside the engine.

        `weights` scale each prefetch in weighted RRF; DBSF ignores them (it has no weights).
        """

    @abstractmethod
    def score_points(
        self, vector_name: str, vector: Vector, point_ids: Sequence[str]
    ) -> dict[str, float]:
        """The engine's score of `vector` against each of `point_ids` that has a `vector_name`
        vector (the others are left out), by point id: exact, on the original vectors, with
        neither payloads nor vectors returned. For a cosine vector that is the cosine.

        Why: a personalised pool is ~600 candidates, and pulling their stored vectors into
        Python to compute cosines there moved about a million floats per request; the engine
        scores them where they lie and returns 600 numbers."""

    @abstractmethod
    def optimize(self) -> None:
        """Build indexes now (Qdrant Edge only optimizes when asked; a server does it itself)."""


# A filter condition in engine-neutral form: ("any", key, values), ("range", key, (lo, hi)),
# ("value", key, value), ("ids", None, ids). Adapters map each kind to their engine's class.
Condition = tuple[str, str | None, Any]


def filter_conditions(flt: TrackFilter | None) -> tuple[list[Condition], list[Condition]]:
    """(must, must_not) for a TrackFilter, shared by both adapters so they cannot drift."""
    if flt is None or flt.is_empty():
        return [], []
    must: list[Condition] = []
    must_not: list[Condition] = []
    if flt.genres:
        must.append(("any", "genre", list(flt.genres)))
    if flt.year_min is not None or flt.year_max is not None:
        must.append(("range", "year", (flt.year_min, flt.year_max)))
    if flt.explicit is not None:
        must.append(("value", "explicit", int(flt.explicit)))  # stored as 0/1
    if flt.artists:
        must.append(("any", "artists", list(flt.artists)))
    if flt.exclude_artists:
        must_not.append(("any", "artists", list(flt.exclude_artists)))
    if flt.exclude_ids:
        must_not.append(("ids", None, list(flt.exclude_ids)))
    if flt.include_ids:
        must.append(("ids", None, list(flt.include_ids)))
    return must, must_not


EngineFilter = TypeVar("EngineFilter")


def engine_filter(
    flt: TrackFilter | None,
    condition: Callable[[Condition], Any],
    make: Callable[..., EngineFilter],
) -> EngineFilter | None:
    """A TrackFilter as an engine's filter (`make(must=..., must_not=...)` of its
    `condition`s), or None when it filters nothing: both engines build it alike."""
    must, must_not = filter_conditions(flt)
    if not (must or must_not):
        return None
    return make(
        must=[condition(c) for c in must] or None,
        must_not=[condition(c) for c in must_not] or None,
    )


def engine_vector(v: Vector, sparse: Callable[[list[int], list[float]], Any]) -> Any:
    """A musicrec vector in an engine's types: both take dense vectors as float lists and
    differ only in their sparse class."""
    if isinstance(v, SparseVector):
        return sparse(list(v.indices), list(v.values))
    return list(map(float, v))


def vector_selection(with_vectors: WithVectors) -> bool | list[str]:
    """`WithVectors` as both engines take it (a list of names, or a bool)."""
    return with_vectors if isinstance(with_vectors, bool) else list(with_vectors)


def stored_vectors(raw: Any, sparse_type: type[Any]) -> dict[str, Vector]:
    """An engine's named vectors of a point back in musicrec's types (a dense list as the
    engine gave it: a pool converts ~600 points per request, copies add up)."""
    if not isinstance(raw, dict):
        return {}
    return {
        k: SparseVector(tuple(v.indices), tuple(v.values))
        if isinstance(v, sparse_type)
        else v
        if isinstance(v, list)
        else list(v)
        for k, v in raw.items()
    }
