"""`musicrec collections …`: see, drop, snapshot and migrate collections (the embedded engine
has no console). The logic is in core/store/admin.py and core/store/migrate.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core.store import StoreError, VectorStore, open_store
from core.store.edge import EdgeStore
from core.store.owner import shard_in_use
from schemas.settings import Settings, load_settings

app = typer.Typer(
    help="List, inspect, drop, snapshot and migrate collections.", no_args_is_help=True
)

Name = Annotated[
    str | None, typer.Argument(help="collection (default: MUSICREC_COLLECTION)", show_default=False)
]


def _store(name: str | None) -> tuple[Settings, VectorStore]:
    settings = load_settings(**({"collection": name} if name else {}))
    return settings, open_store(settings)


def _where(settings: Settings) -> str:
    return f"edge:{settings.qdrant_path}" if settings.engine == "edge" else str(settings.qdrant_url)


@app.command("list")
def list_command() -> int:
    """The collections of the configured engine, with their point counts."""
    from core.store.admin import list_collections

    settings, store = _store(None)
    try:
        names = list_collections(store)
        for name in names:
            _, other = _store(name)
            try:
                if isinstance(other, EdgeStore) and shard_in_use(other.path):
                    print(f"{name}\tin use by another process (not opened, not counted)")
                else:
                    print(f"{name}\t{other.count()} points")
            finally:
                other.close()
    finally:
        store.close()
    if not names:
        print(f"no collections at {_where(settings)}", file=sys.stderr)
    return 0


@app.command()
def info(name: Name = None) -> int:
    """Points, vectors and their encoders, payload indexes, size on disk, index status."""
    from core.store.admin import collection_info

    _, store = _store(name)
    try:
        print("\n".join(collection_info(store).lines()))
    finally:
        store.close()
    return 0


@app.command()
def drop(
    name: Annotated[str, typer.Argument(help="collection to delete")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="on a server: drop although an API may serve it")
    ] = False,
) -> int:
    """Delete a collection and its metadata. An embedded collection another process owns
    (the API serving it, an index run) is refused; on a server, where no lock says whether
    an API serves it, only with --force."""
    settings, store = _store(name)
    try:
        if not store.exists():
            raise StoreError(f"collection '{name}' does not exist at {_where(settings)}")
        if isinstance(store, EdgeStore) and shard_in_use(store.path):
            raise StoreError(
                f"collection '{name}' at {_where(settings)} is open in another process (the "
                "API serving it, or an index run): stop it first; dropping it would leave that "
                "process answering from deleted files"
            )
        if not isinstance(store, EdgeStore) and not force:
            raise StoreError(
                f"collection '{name}' is on the server {_where(settings)}, where an API may be "
                "serving it (a server has no owner to ask): pass --force to drop it anyway"
            )
        if not yes:
            typer.confirm(f"delete collection '{name}' at {_where(settings)}?", abort=True)
        store.drop()
    finally:
        store.close()
    print(f"dropped '{name}'")
    return 0


@app.command()
def snapshot(
    name: Name = None,
    out: Annotated[Path, typer.Option(help="where an embedded snapshot is written")] = Path(
        "snapshots"
    ),
) -> int:
    """A restorable snapshot (embedded: a .tar.gz; server: the server's own snapshot)."""
    from core.store.admin import snapshot as take

    _, store = _store(name)
    try:
        print(take(store, out))
    finally:
        store.close()
    return 0


@app.command()
def migrate(
    to: Annotated[
        str, typer.Option("--to", help="target: http(s)://server:6333 or file:///local/dir")
    ],
    name: Name = None,
    target_collection: Annotated[
        str | None, typer.Option("--collection", help="name at the target (default: the same)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 256,
    sample: Annotated[int, typer.Option(min=0, help="points compared at the end")] = 64,
    checkpoint: Annotated[
        Path | None, typer.Option(help="default: <data_dir>/migrate-<collection>.json")
    ] = None,
) -> int:
    """Copy a collection (vectors, payloads, metadata) to a server, resumable, then verify.

    The target is created with MUSICREC_SHARD_NUMBER / _REPLICATION_FACTOR /
    _WRITE_CONSISTENCY_FACTOR and the source's quantization. Killed, re-run the same command."""
    from core.store.factory import open_server_store
    from core.store.migrate import migrate as copy

    settings, source = _store(name)
    dest_name = target_collection or source.collection
    checkpoint = checkpoint or settings.data_dir / f"migrate-{source.collection}.json"
    target: VectorStore | None = None
    try:
        quantization = source.quantization() if source.exists() else settings.quantization
        target = open_server_store(settings, to, dest_name, quantization=quantization)
        try:
            target.exists()  # the first call to the target: is it Qdrant at all?
        except StoreError:
            raise
        except Exception as exc:  # a web server that is not Qdrant answers with anything
            raise StoreError(
                f"{to} does not answer as a Qdrant server ({type(exc).__name__}: {exc})"
            ) from exc
        report = copy(
            source,
            target,
            checkpoint,
            source_name=f"{_where(settings)}#{source.collection}",
            target_name=f"{to}#{dest_name}",
            batch_size=batch_size,
            sample=sample,
            on_batch=lambda done, total: print(f"  {done}/{total}", file=sys.stderr, flush=True),
        )
    finally:
        source.close()
        if target is not None:
            target.close()
    print(report.summary())
    return 0
