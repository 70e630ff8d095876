"""Copy a collection between engines without re-encoding: Qdrant Edge → server, server → server.

Encoding is the expensive part of indexing (about 30 tracks/s on 2 cores), so moving a
laptop's collection to a cluster copies what is stored — dense and sparse vectors, payloads,
the collection metadata (layout, audio scaler, encoders) — through the `VectorStore` contract.

Why it is safe to kill: points are read in the source engine's point-id order and upserted
under their own ids (an upsert of a point already there changes nothing), and after every
batch the target has acknowledged, a checkpoint with the last copied id is published with
`core.files.atomic_write`. A re-run resumes from that id; at most one batch is written twice,
which the ids make harmless. The checkpoint names the source and the target, so it cannot
resume a different copy; it is removed once the copy is verified (exact count, metadata, and
a sample of points compared vector by vector).

Written here rather than with Qdrant's snapshots because a snapshot cannot cross engines
(Qdrant Edge's shard format is not a server collection's) and cannot reshard: the target is
created with the cluster's own shard number and replication factor.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.files import atomic_write
from core.store.base import PointRecord, StoreError, VectorStore
from core.store.cluster import CLUSTER_KEY
from schemas.vectors import SparseVector, Vector

#: Metadata the target sets itself at creation (its layout argument, its own topology).
TARGET_OWNED_KEYS = ("layout", CLUSTER_KEY)


class MigrationError(StoreError):
    """The copy cannot start or did not verify; nothing already stored is changed."""


@dataclass
class MigrationReport:
    total: int
    copied: int  # points written by this run
    resumed_at: int  # points already copied by an earlier, interrupted run
    sampled: int
    seconds: float

    def summary(self) -> str:
        resumed = f", resumed after {self.resumed_at}" if self.resumed_at else ""
        return (
            f"copied {self.copied} points{resumed}; target holds {self.total}, equal to the "
            f"source; {self.sampled} sampled points identical; {self.seconds:.1f}s"
        )


def copied_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The part of a collection's metadata a copy must carry over unchanged."""
    return {k: v for k, v in metadata.items() if k not in TARGET_OWNED_KEYS}


def migrate(
    source: VectorStore,
    target: VectorStore,
    checkpoint: Path,
    *,
    source_name: str,
    target_name: str,
    batch_size: int = 256,
    sample: int = 64,
    on_batch: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Copy `source` into `target` (created from the source's layout if missing) and verify.

    `source_name`/`target_name` identify the two ends in the checkpoint; `on_batch(done,
    total)` reports progress."""
    started = time.perf_counter()
    layout = source.layout() if source.exists() else None
    if layout is None:
        raise MigrationError(
            f"source collection '{source.collection}' ({source_name}) does not exist or has no "
            "layout metadata: nothing to migrate"
        )
    identity = {"source": source_name, "target": target_name}
    state = _load_checkpoint(checkpoint, identity)
    if target.exists():
        if state is None:
            raise MigrationError(
                f"target collection '{target.collection}' at {target_name} already exists and "
                f"there is no checkpoint of a copy into it ({checkpoint}): drop it first "
                "(`musicrec collections drop`) or choose another --collection"
            )
        if target.layout() != layout:
            raise MigrationError(
                f"target collection '{target.collection}' has another layout than the source"
            )
    else:
        state = None  # a checkpoint without its target: start over
        target.create(layout, copied_metadata(source.read_metadata()))
    last_id: str | None = state["last_id"] if state else None
    done = resumed = state["copied"] if state else 0
    chosen: list[str] = state.get("sample", []) if state else []
    total = source.count()
    for batch in source.scroll(batch_size, with_vectors=True, start=last_id):
        if last_id is not None and batch[0].id == last_id:
            batch = batch[1:]  # the checkpoint's point is already in the target
        if not batch:
            continue
        target.upsert(batch)  # acknowledged (wait=True / flushed) before the checkpoint moves
        done += len(batch)
        last_id = batch[-1].id
        chosen = bottom_k(chosen + [p.id for p in batch], sample)
        progress = {**identity, "last_id": last_id, "copied": done, "sample": chosen}
        atomic_write(checkpoint, json.dumps(progress).encode())
        if on_batch:
            on_batch(done, total)
    sampled = verify(source, target, chosen)
    checkpoint.unlink(missing_ok=True)
    return MigrationReport(
        total=target.count(),
        copied=done - resumed,
        resumed_at=resumed,
        sampled=sampled,
        seconds=time.perf_counter() - started,
    )


def _load_checkpoint(path: Path, identity: dict[str, str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if {k: state.get(k) for k in identity} != identity:
        raise MigrationError(
            f"checkpoint {path} belongs to a copy from {state.get('source')} to "
            f"{state.get('target')}, not this one: remove it or pass another --checkpoint"
        )
    return state


def bottom_k(ids: list[str], k: int) -> list[str]:
    """The k ids with the smallest hashes: a uniform sample that needs no random state, so a
    resumed copy keeps choosing the same way (the sample is part of the checkpoint)."""

    def key(point_id: str) -> bytes:
        return hashlib.blake2b(point_id.encode(), digest_size=8).digest()

    return sorted(set(ids), key=key)[:k]


def verify(source: VectorStore, target: VectorStore, chosen: list[str]) -> int:
    """Count, metadata, and the `chosen` points compared (vectors within float32 rounding,
    payload equal). Returns how many points were compared."""
    have, want = target.count(), source.count()
    if have != want:
        raise MigrationError(f"target holds {have} points, the source {want}")
    if copied_metadata(target.read_metadata()) != copied_metadata(source.read_metadata()):
        raise MigrationError("target collection metadata differs from the source's")
    theirs = {p.id: p for p in target.retrieve(chosen, with_vectors=True)}
    for point in source.retrieve(chosen, with_vectors=True):
        copy = theirs.get(point.id)
        if copy is None or not _same_point(point, copy):
            raise MigrationError(f"point {point.id} differs between source and target")
    return len(chosen)


def _same_point(a: PointRecord, b: PointRecord) -> bool:
    if a.payload != b.payload or set(a.vectors) != set(b.vectors):
        return False
    return all(_same_vector(a.vectors[name], b.vectors[name]) for name in a.vectors)


def _same_vector(a: Vector, b: Vector) -> bool:
    if isinstance(a, SparseVector) and isinstance(b, SparseVector):
        da, db = a.as_dict(), b.as_dict()
        return da.keys() == db.keys() and np.allclose(
            [da[i] for i in da], [db[i] for i in da], rtol=1e-6, atol=1e-7
        )
    if isinstance(a, SparseVector) or isinstance(b, SparseVector):
        return False
    return len(a) == len(b) and np.allclose(a, b, rtol=1e-6, atol=1e-7)
