"""Indexing, composed from settings: a catalog file into the collection. `musicrec index`
runs it in its own process (a Qdrant server, or the embedded shard while no API owns it);
the API's job runner runs it on the store the API already holds (the embedded shard has one
owner), so both paths index with the same code and the same checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.encoders.base import Encoder
from core.store import VectorStore
from indexer.catalog import RowError
from indexer.partition import Part, ensure_collection
from indexer.pipeline import Indexer, IndexProgress, IndexReport, build_index_encoders
from schemas.settings import Settings


@dataclass(frozen=True)
class IndexOptions:
    """What one indexing run is asked to do (the CLI's options, a job's parameters)."""

    schema: str = "auto"
    force: bool = False
    batch_size: int | None = None
    part: Part | None = None
    fit_only: bool = False
    wait_seconds: float = 600


def run_index(
    settings: Settings,
    store: VectorStore,
    path: Path,
    options: IndexOptions = IndexOptions(),
    *,
    on_error: Callable[[RowError], None] | None = None,
    on_cover_error: Callable[[str, str], None] | None = None,
    on_progress: IndexProgress | None = None,
    lyrics: Encoder | None = None,
    tqdm_bar: bool = False,
) -> IndexReport | None:
    """Index `path` into `store` (None with `fit_only`: the collection was only created).

    `lyrics`: an already loaded lyrics encoder to share (the API's); it is not closed here.
    `on_progress` is called after each batch and may raise to stop the run between batches
    (a cancelled job): every batch stored so far is kept, a re-run resumes."""
    encoders = build_index_encoders(settings, on_cover_error=on_cover_error, lyrics=lyrics)
    try:
        indexer = Indexer(
            store,
            encoders,
            batch_size=options.batch_size or settings.index_batch_size,
            optimize_above=settings.exact_search_below,
            progress=tqdm_bar,
            keep=options.part.owns if options.part else None,
            min_free_bytes=settings.index_min_free_mb * 2**20,
            space_paths=[settings.data_dir]
            + (
                [settings.qdrant_path] if settings.engine == "edge" and settings.qdrant_path else []
            ),
            on_progress=on_progress,
            cover_local_dir=settings.cover_local_dir,
        )
        if options.fit_only or options.part:
            part = None if options.fit_only else options.part
            ensure_collection(indexer, path, options.schema, part, options.wait_seconds)
            if options.fit_only:
                return None
        return indexer.run(path, schema=options.schema, force=options.force, on_error=on_error)
    finally:
        for encoder in encoders:
            if encoder is not lyrics:
                getattr(encoder, "close", lambda: None)()
