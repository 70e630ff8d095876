"""Qdrant Edge adapter: Qdrant's Rust engine in-process, the embedded default.

One shard directory per collection under `qdrant_path`. The shard's WAL takes an exclusive
lock, so exactly one process (the API, or the indexer while the API is stopped) may open it.
Collection metadata (layout, audio scaler) lives in a JSON file beside the shard because an
Edge shard has no metadata slot of its own. Creation is atomic: the shard is built in a hidden
directory, the metadata written, then the directory renamed into place, so a process killed
while creating never leaves a shard without metadata (which made every later index fail).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from core.files import atomic_writer
from core.store.base import (
    Fusion,
    PointRecord,
    Quantization,
    ScoredRecord,
    StoreError,
    StoreLockedError,
    StoreTuning,
    TrackFilter,
    VectorStore,
    WithVectors,
    vector_selection,
)
from core.store.edge_types import (
    DISTANCES,
    PAYLOAD_TYPES,
    to_engine,
    to_filter,
    vectors_of,
)
from core.store.owner import pid_alive
from core.store.priority import QueryPriority
from schemas.layout import CollectionLayout
from schemas.vectors import Vector

log = logging.getLogger(__name__)


class EdgeStore(VectorStore):
    engine = "edge"

    def __init__(self, root: Path, collection: str, **tuning: Any) -> None:
        """`tuning`: the fields of `StoreTuning` (the settings' defaults where not given)."""
        self.collection = collection
        self.path = Path(root) / collection
        self.meta_path = Path(root) / f"{collection}.musicrec.json"
        self.tuning = StoreTuning(**tuning)
        # Rescoring with the original vectors keeps int8 quantization's recall loss small;
        # the parameters are ignored by a collection created without quantization.
        self._approximate = qe.QuantizationSearchParams(
            rescore=True, oversampling=self.tuning.quantization_oversampling
        )
        self._shard: qe.EdgeShard | None = None
        self._priority: QueryPriority | None = None  # see `yield_to_requests`
        self._exact = True
        # The shard handle is shared by the API's worker threads; updates are serialized
        # so a batch upsert and the count that picks exact search stay consistent.
        self._lock = threading.RLock()

    # --- lifecycle --------------------------------------------------------------------
    def exists(self) -> bool:
        """A shard and its metadata: creation publishes both or neither (see `create`)."""
        return (self.path / "edge_config.json").exists() and self.meta_path.exists()

    def _open(self) -> qe.EdgeShard:
        try:
            return qe.EdgeShard.load(str(self.path))
        except Exception as exc:
            if "WouldBlock" in str(exc):
                raise StoreLockedError(
                    f"the Qdrant Edge shard at {self.path} is open in another process "
                    "(only one process may own it: stop the API before indexing, or point "
                    "both at a Qdrant server with MUSICREC_QDRANT_URL)"
                ) from exc
            raise StoreError(f"cannot open Qdrant Edge shard at {self.path}: {exc}") from exc

    @property
    def is_open(self) -> bool:
        """Whether this handle holds the shard (then its lock is ours, not another's)."""
        return self._shard is not None

    @property
    def shard(self) -> qe.EdgeShard:
        """The open shard, for one engine call: background work first waits for requests
        (`yield_to_requests`); every call goes through here."""
        if self._priority is not None:
            self._priority.before_query()
        return self._opened()

    def _opened(self) -> qe.EdgeShard:
        if self._shard is None:
            with self._lock:
                if self._shard is None:
                    if not self.exists():
                        raise StoreError(
                            f"collection '{self.collection}' does not exist at {self.path}: "
                            "run `musicrec index` first"
                        )
                    self._shard = self._open()
                    self._refresh_exact()
        return self._shard

    def create(self, layout: CollectionLayout, metadata: dict[str, Any]) -> None:
        m, ef_construct = self.tuning.hnsw_m, self.tuning.hnsw_ef_construct
        quantized = self.tuning.quantized
        config = qe.EdgeConfig(
            vectors={
                # Quantized, the originals are only read to rescore a few candidates: they stay
                # on disk (the OS page cache, not the process, holds the hot ones).
                name: qe.EdgeVectorParams(
                    size=spec.size,
                    distance=DISTANCES[spec.distance],
                    memory=qe.Memory.Cold if quantized else None,
                )
                for name, spec in layout.vectors.items()
            },
            sparse_vectors={
                name: qe.EdgeSparseVectorParams(
                    modifier=qe.Modifier.Idf if spec.modifier == "idf" else None
                )
                for name, spec in layout.sparse_vectors.items()
            },
            hnsw_config=qe.HnswIndexConfig(
                m=m, ef_construct=ef_construct, full_scan_threshold=10_000
            ),
            quantization_config=qe.ScalarQuantizationConfig(
                type=qe.ScalarType.Int8, quantile=0.99, memory=qe.Memory.Pinned
            )
            if quantized
            else None,
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._clear_half_created()
            # Built aside and renamed into place, metadata written first: a kill at any point
            # leaves either no collection (the next run starts over) or a complete one.
            building = self.path.parent / f".{self.collection}.creating-{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            shard = qe.EdgeShard.create(str(building), config)
            for field, kind in layout.payload_indexes.items():
                shard.update(qe.UpdateOperation.create_field_index(field, PAYLOAD_TYPES[kind]))
            shard.flush()
            shard.close()
            self.write_metadata({**metadata, "layout": layout.model_dump()})
            os.rename(building, self.path)
            self._shard = self._open()
            self._refresh_exact()

    def _clear_half_created(self) -> None:
        """Remove what an interrupted creation left: build directories of dead processes, and
        a shard without metadata (what creation before it was atomic could leave) if empty."""
        for leftover in self.path.parent.glob(f".{self.collection}.creating-*"):
            pid = leftover.name.rsplit("-", 1)[-1]
            if not (pid.isdigit() and pid_alive(int(pid))):
                shutil.rmtree(leftover, ignore_errors=True)
        if not self.path.exists():
            return
        if not (self.path / "edge_config.json").exists():
            log.warning("removing %s: a collection creation that never finished", self.path)
            shutil.rmtree(self.path)
            return
        shard = self._open()
        try:
            points = shard.count(qe.CountRequest(exact=True))
        finally:
            shard.close()
        if points:
            raise StoreError(
                f"the Qdrant Edge shard at {self.path} holds {points} points but its metadata "
                f"file {self.meta_path} is missing: restore that file, or delete the shard "
                "directory to rebuild the collection with `musicrec index`"
            )
        log.warning(
            "removing the empty shard %s left without metadata by an interrupted collection "
            "creation; creating it again",
            self.path,
        )
        shutil.rmtree(self.path)

    def read_metadata(self) -> dict[str, Any]:
        if not self.meta_path.exists():
            return {}
        try:
            metadata: Any = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(self._damaged_metadata(exc)) from exc
        if not isinstance(metadata, dict):
            raise StoreError(self._damaged_metadata(f"a JSON {type(metadata).__name__}"))
        return metadata

    def _damaged_metadata(self, what: object) -> str:
        """Empty or not JSON (a bad copy, a hand edit, a full disk under an older musicrec):
        the collection cannot be queried until it is restored or rebuilt."""
        return (
            f"the collection metadata {self.meta_path} is damaged ({what}): restore it, or "
            "re-index into a new collection with `musicrec index`"
        )

    def write_metadata(self, metadata: dict[str, Any]) -> None:
        with atomic_writer(self.meta_path, "w", encoding="utf-8") as fh:
            json.dump(metadata, fh)

    def quantization(self) -> Quantization:
        config = json.loads((self.path / "edge_config.json").read_text(encoding="utf-8"))
        return "int8" if (config.get("quantization_config") or {}).get("scalar") else "none"

    def drop(self) -> None:
        self.close()
        shutil.rmtree(self.path, ignore_errors=True)
        self.meta_path.unlink(missing_ok=True)

    def yield_to_requests(self, priority: QueryPriority) -> None:
        self._priority = priority

    def local_files(self) -> list[Path]:
        """Every file of the shard directory (segments, graphs, payloads, write-ahead log)."""
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.rglob("*") if p.is_file())

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The shard flushed and closed for the block, every other thread's access to it held
        until the block ends (then it reopens on first use): a consistent copy of the files."""
        with self._lock:
            self.close()
            yield

    def optimize(self) -> None:
        with self._lock:
            self.shard.optimize()
            self._refresh_exact()

    def _refresh_exact(self) -> None:
        assert self._shard is not None
        self._exact = (
            self._shard.count(qe.CountRequest(exact=True)) < self.tuning.exact_search_below
        )

    def _params(self) -> qe.SearchParams:
        self._opened()  # opening decides exact vs HNSW (no engine call: no wait)
        # Exact means exact: small collections are searched on the original vectors.
        quantization = (
            qe.QuantizationSearchParams(ignore=True) if self._exact else self._approximate
        )
        return qe.SearchParams(
            hnsw_ef=self.tuning.hnsw_ef, exact=self._exact, quantization=quantization
        )

    # --- points -----------------------------------------------------------------------
    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not points:
            return
        # One operation per point: Qdrant Edge stores the points of one operation in an
        # order that changes from run to run and returns exactly tied scores (duplicate songs
        # share their vectors) in storage order, so the same catalog indexed twice answered
        # the same query in two orders. Point by point, the storage order follows the order
        # given (the indexer's) and tied answers repeat, at the cost of one batch
        # (docs/performance.md, "Points stored in the order given").
        ops = [
            qe.UpdateOperation.upsert_points(
                [qe.Point(p.id, {k: to_engine(v) for k, v in p.vectors.items()}, p.payload)]
            )
            for p in points
        ]
        with self._lock:
            for op in ops:
                self.shard.update(op)
            self.shard.flush()
            self._refresh_exact()

    def set_payload(self, point_ids: Sequence[str], payload: dict[str, Any]) -> None:
        with self._lock:
            self.shard.update(qe.UpdateOperation.set_payload(list(point_ids), payload))
            self.shard.flush()

    def delete(self, point_ids: Sequence[str]) -> None:
        with self._lock:
            self.shard.update(qe.UpdateOperation.delete_points(list(point_ids)))
            self.shard.flush()
            self._refresh_exact()

    def retrieve(
        self, point_ids: Sequence[str], with_vectors: WithVectors = False
    ) -> list[PointRecord]:
        if not point_ids:
            return []
        records = self.shard.retrieve(
            list(point_ids), with_payload=True, with_vector=vector_selection(with_vectors)
        )
        return [PointRecord(str(r.id), vectors_of(r.vector), r.payload or {}) for r in records]

    def count(self, flt: TrackFilter | None = None) -> int:
        return self.shard.count(qe.CountRequest(filter=to_filter(flt), exact=True))

    def scroll(
        self, batch_size: int = 256, with_vectors: bool = False, start: str | None = None
    ) -> Iterator[list[PointRecord]]:
        offset: Any = start
        while True:
            records, offset = self.shard.scroll(
                qe.ScrollRequest(
                    offset=offset, limit=batch_size, with_payload=True, with_vector=with_vectors
                )
            )
            if records:
                yield [
                    PointRecord(str(r.id), vectors_of(r.vector), r.payload or {}) for r in records
                ]
            if offset is None:
                return

    # --- search -----------------------------------------------------------------------
    def _scored(self, points: list[qe.ScoredPoint]) -> list[ScoredRecord]:
        return [
            ScoredRecord(str(p.id), float(p.score), p.payload or {}, vectors_of(p.vector))
            for p in points
        ]

    def search(
        self,
        vector_name: str,
        vector: Vector,
        limit: int,
        offset: int = 0,
        flt: TrackFilter | None = None,
        with_vectors: WithVectors = False,
    ) -> list[ScoredRecord]:
        request = qe.QueryRequest(
            limit=limit,
            offset=offset,
            query=qe.Query.Nearest(to_engine(vector), using=vector_name),
            filter=to_filter(flt),
            params=self._params(),
            with_payload=True,
            with_vector=vector_selection(with_vectors),
        )
        return self._scored(self.shard.query(request))

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
        request = self.fused_request(
            queries, weights, limit, offset, flt, fusion, prefetch_limit, rrf_k, with_vectors
        )
        return self._scored(self.shard.query(request))

    def fused_request(
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
        with_payload: bool = True,
    ) -> qe.QueryRequest:
        """The engine request `fused_search` sends (scripts/profile_content_query.py times it
        as served and with less returned)."""
        names = list(queries)
        engine_filter = to_filter(flt)
        params = self._params()
        prefetches = [
            qe.Prefetch(
                limit=max(prefetch_limit, limit + offset),
                query=qe.Query.Nearest(to_engine(queries[name]), using=name),
                filter=engine_filter,
                params=params,
            )
            for name in names
        ]
        fuse = (
            qe.Fusion.Rrf(k=rrf_k, weights=[float(weights.get(n, 1.0)) for n in names])
            if fusion == "rrf"
            else qe.Fusion.Dbsf()
        )
        return qe.QueryRequest(
            limit=limit,
            offset=offset,
            prefetches=prefetches,
            # The stub declares Fusion's variants as classes nested in Fusion, not subclasses.
            query=fuse,  # type: ignore[arg-type]
            filter=engine_filter,
            with_payload=with_payload,
            with_vector=vector_selection(with_vectors),
        )

    def score_points(
        self, vector_name: str, vector: Vector, point_ids: Sequence[str]
    ) -> dict[str, float]:
        ids: set[Any] = set(point_ids)
        if not ids:
            return {}
        request = qe.QueryRequest(
            limit=len(ids),
            query=qe.Query.Nearest(to_engine(vector), using=vector_name),
            filter=qe.Filter(must=[qe.HasIdCondition(ids)]),
            params=qe.SearchParams(
                exact=True, quantization=qe.QuantizationSearchParams(ignore=True)
            ),
            with_payload=False,
            with_vector=False,
        )
        return {str(p.id): float(p.score) for p in self.shard.query(request)}
