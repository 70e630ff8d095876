"""What `musicrec collections list | info | drop | snapshot` report and do, for both engines.

The embedded engine has no console, so this is where a user sees what a collection holds:
points, vectors and the encoders that made them, payload indexes, size on disk, and whether
the HNSW indexes are built. Each engine answers from its own API (Qdrant Edge's `info()`,
a server's `get_collection`); the encoders come from the layout stored in the metadata.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.files import atomic_writer
from core.store.base import PointRecord, StoreError, VectorStore
from core.store.client import ClientStore
from core.store.cluster import CLUSTER_KEY
from core.store.edge import EdgeStore
from core.store.owner import shard_in_use


class UnsupportedError(StoreError):
    """The engine cannot do this at all (qdrant-client's local mode has no snapshots):
    retrying will not help, unlike an unreachable server."""


@dataclass
class CollectionInfo:
    name: str
    engine: str
    points: int | None  # None: not counted (another process owns the embedded shard)
    vectors: dict[str, str] = field(default_factory=dict)  # name → "384-d cosine, encoder"
    payload_indexes: dict[str, str] = field(default_factory=dict)  # field → type
    disk_bytes: int | None = None  # None: a remote server (see its own metrics)
    index_status: str = ""
    cluster: dict[str, Any] | None = None
    #: What the indexer recorded at creation (source catalog, time, …), minus the layout
    #: (shown as `vectors`) and the audio scaler (numbers nobody reads).
    metadata: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        size = f"{self.disk_bytes / 1e6:.1f} MB" if self.disk_bytes is not None else "n/a"
        out = [
            f"collection  {self.name} ({self.engine})",
            f"points      {'not counted' if self.points is None else self.points}",
            f"on disk     {size}",
            f"index       {self.index_status}",
        ]
        if self.cluster:
            out.append("cluster     " + ", ".join(f"{k} {v}" for k, v in self.cluster.items()))
        out += [f"vector      {n}: {d}" for n, d in self.vectors.items()]
        out += [f"payload idx {f}: {t}" for f, t in self.payload_indexes.items()]
        return out


#: Metadata keys `CollectionInfo` shows elsewhere, or not at all.
_NOT_SHOWN = {"layout", "audio_scaler", CLUSTER_KEY}


def directory_bytes(path: Path) -> int:
    """Bytes allocated on disk (st_blocks), not apparent sizes: Qdrant Edge preallocates
    sparse files, so a 936 KB shard has an apparent size of 276 MB."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def list_collections(store: VectorStore) -> list[str]:
    """Every collection beside `store` in the same engine (same Edge root, same server)."""
    if isinstance(store, EdgeStore):
        root = store.path.parent
        if not root.is_dir():
            return []
        return sorted(p.name for p in root.iterdir() if (p / "edge_config.json").exists())
    if isinstance(store, ClientStore):
        return sorted(c.name for c in store.client.get_collections().collections)
    raise StoreError(f"no collection listing for engine {store.engine}")


def _encoders(store: VectorStore) -> dict[str, str]:
    layout = store.layout()
    if layout is None:
        return {}
    dense = {n: f"{s.size}-d {s.distance}, {s.encoder}" for n, s in layout.vectors.items()}
    sparse = {n: f"sparse ({s.modifier}), {s.encoder}" for n, s in layout.sparse_vectors.items()}
    return {**dense, **sparse}


def collection_info(store: VectorStore, disk_path: Path | None = None) -> CollectionInfo:
    """`disk_path`: where a qdrant-client local-mode collection lives (None for a server)."""
    if not store.exists():
        raise StoreError(f"collection '{store.collection}' does not exist")
    if isinstance(store, EdgeStore) and not store.is_open and shard_in_use(store.path):
        # Another process owns the shard: the metadata file and the sizes only, never an open.
        info = CollectionInfo(store.collection, store.engine, None, _encoders(store))
        info.disk_bytes = directory_bytes(store.path) + store.meta_path.stat().st_size
        info.index_status = "in use by another process (the API or an index run): not opened"
        return info
    info = CollectionInfo(store.collection, store.engine, store.count(), _encoders(store))
    recorded = store.read_metadata()
    info.cluster = recorded.get(CLUSTER_KEY)
    info.metadata = {k: v for k, v in recorded.items() if k not in _NOT_SHOWN}
    if isinstance(store, EdgeStore):
        shard = store.shard.info()
        info.payload_indexes = {
            k: f"{str(v.data_type).rsplit('.', 1)[-1].lower()} ({v.points} points)"
            for k, v in sorted(shard.payload_schema.items())
        }
        info.disk_bytes = directory_bytes(store.path) + store.meta_path.stat().st_size
        info.index_status = (
            f"{shard.indexed_vectors_count} vectors in HNSW graphs, "
            f"{shard.segments_count} segments (Qdrant Edge builds them on `optimize`)"
        )
    elif isinstance(store, ClientStore):
        remote = store.client.get_collection(store.collection)
        info.payload_indexes = {
            k: f"{v.data_type.value} ({v.points} points)"
            for k, v in sorted(remote.payload_schema.items())
        }
        info.index_status = (
            f"{remote.status.value}; optimizer {remote.optimizer_status}; "
            f"{remote.indexed_vectors_count} vectors in HNSW graphs, {remote.segments_count} "
            "segments"
        )
        info.disk_bytes = directory_bytes(disk_path) if disk_path else None
    return info


@contextmanager
def sibling(store: VectorStore, name: str) -> Iterator[VectorStore]:
    """Collection `name` in `store`'s engine (`store` itself for its own name), so a console
    that holds one open collection can show the others. An embedded sibling is opened for
    the block and closed after (its shard lock released); a server one shares the client."""
    if name == store.collection:
        yield store
    elif isinstance(store, EdgeStore):
        other = EdgeStore(store.path.parent, name)
        try:
            yield other
        finally:
            other.close()
    elif isinstance(store, ClientStore):
        yield ClientStore(store.client, name, engine=store.engine, cluster=store.cluster)
    else:
        raise StoreError(f"no collection listing for engine {store.engine}")


@dataclass
class PointsPage:
    points: list[PointRecord]
    next_offset: str | None  # the id the next page starts at; None: this was the last


def browse(store: VectorStore, limit: int, offset: str | None = None) -> PointsPage:
    """One page of points with their payloads, in the engine's id order, from `offset` (an id
    a previous page returned) on. One more point than asked is read: its id is the next page's
    start, so pages never overlap or skip, however the ids are spread."""
    if not store.exists():
        raise StoreError(f"collection '{store.collection}' does not exist")
    batch = next(store.scroll(batch_size=limit + 1, start=offset), [])
    following = batch[limit].id if len(batch) > limit else None
    return PointsPage(batch[:limit], following)


def drop(store: VectorStore) -> None:
    """Delete a collection, refusing an embedded one another process has open: its shard is
    locked first (StoreLockedError), so files are never removed under a running indexer."""
    if not store.exists():
        raise StoreError(f"collection '{store.collection}' does not exist")
    if isinstance(store, EdgeStore):
        _ = store.shard
    store.drop()


def snapshot(store: VectorStore, out_dir: Path) -> str:
    """A restorable copy. Qdrant Edge: the flushed shard and its metadata in a .tar.gz (untar
    into the qdrant directory to restore). A server: its own snapshot, kept on the node (in a
    cluster, on each node that holds a shard: take one per node)."""
    if isinstance(store, EdgeStore):
        if not store.exists():
            raise StoreError(f"collection '{store.collection}' does not exist")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir.mkdir(parents=True, exist_ok=True)
        target = out_dir / f"{store.collection}-{stamp}.tar.gz"
        # Flushed and unlocked while it is archived; a serving API's requests wait for the
        # copy (they reopen the shard after it) instead of writing into a half-read archive.
        with (
            store.paused(),
            atomic_writer(target, "wb") as fh,
            tarfile.open(fileobj=fh, mode="w:gz") as tar,
        ):
            tar.add(store.path, arcname=store.path.name)
            tar.add(store.meta_path, arcname=store.meta_path.name)
        return str(target)
    if isinstance(store, ClientStore):
        try:
            described = store.client.create_snapshot(store.collection, wait=True)
        except NotImplementedError as exc:
            raise UnsupportedError(f"this engine has no snapshots: {exc}") from exc
        assert described is not None
        return f"{described.name} on the server ({described.size} bytes)"
    raise UnsupportedError(f"no snapshots for engine {store.engine}")
