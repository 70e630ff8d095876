"""`musicrec index`: a catalog CSV into the vector store."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from indexer.catalog import RowError
from indexer.partition import Part, ensure_collection
from schemas.settings import load_settings

SHOWN_ERRORS = 20


class RejectLog:
    """Prints the first problems (rejected rows, failed covers) and, if asked, writes every
    one of them to a CSV, so a million-row run does not flood the terminal."""

    def __init__(self, path: Path | None) -> None:
        self.shown = 0
        self.covers = 0
        self._file = path.open("w", newline="", encoding="utf-8") if path else None
        self._writer = csv.writer(self._file) if self._file else None
        if self._writer:
            self._writer.writerow(["line", "track_id_or_url", "reason"])

    def __call__(self, err: RowError) -> None:
        if self._writer:
            self._writer.writerow([err.line, err.track_id or "", err.reason])
        shown = (err.track_id or "no id")[:60]  # a 10,000-character id must not flood the screen
        self._show(f"rejected line {err.line} ({shown}): {err.reason}")

    def cover(self, url: str, reason: str) -> None:
        """A cover that could not be used: its tracks are indexed without a cover vector."""
        if self._writer:
            self._writer.writerow(["", url, f"cover: {reason}"])
        self.covers += 1
        self._show(f"cover {url}: {reason} (its tracks get no cover vector)")

    def _show(self, message: str) -> None:
        if self.shown < SHOWN_ERRORS:
            print(f"  {message}", file=sys.stderr)
        self.shown += 1

    def close(self) -> None:
        if self._file:
            self._file.close()


def index(
    path: Annotated[Path, typer.Argument(help="catalog CSV (Kaggle or tidytuesday schema)")],
    schema: Annotated[
        Literal["auto", "kaggle", "tidytuesday"], typer.Option(help="catalog schema")
    ] = "auto",
    force: Annotated[bool, typer.Option(help="re-encode even unchanged tracks")] = False,
    batch_size: Annotated[int | None, typer.Option(min=1, max=10_000)] = None,
    rejects: Annotated[Path | None, typer.Option(help="write every problem here")] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress")] = False,
    part: Annotated[
        Part | None, typer.Option(parser=Part.parse, help="index only part I/N of the track ids")
    ] = None,
    fit_only: Annotated[
        bool, typer.Option("--fit-only", help="create the collection, fit the scaler, stop")
    ] = False,
    wait: Annotated[float, typer.Option(help="seconds a part > 1 waits for the scaler")] = 600,
) -> int:
    """Index a track catalog CSV into Qdrant (re-runs skip unchanged tracks)."""
    from core.store import open_store
    from indexer.pipeline import Indexer, build_index_encoders

    settings = load_settings()
    store = open_store(settings)
    log = RejectLog(rejects)
    encoders = []
    try:
        print(
            f"loading encoders (lyrics: {settings.lyrics_model}, cover: {settings.cover_encoder})",
            file=sys.stderr,
            flush=True,
        )
        encoders = build_index_encoders(settings, on_cover_error=log.cover)
        indexer = Indexer(
            store,
            encoders,
            batch_size=batch_size or settings.index_batch_size,
            optimize_above=settings.exact_search_below,
            progress=not no_progress,
            keep=part.owns if part else None,
            min_free_bytes=settings.index_min_free_mb * 2**20,
            space_paths=[settings.data_dir]
            + (
                [settings.qdrant_path] if settings.engine == "edge" and settings.qdrant_path else []
            ),
            cover_local_dir=settings.cover_local_dir,
        )
        if fit_only or part:
            ensure_collection(indexer, path, schema, None if fit_only else part, wait)
            if fit_only:
                print(f"collection '{settings.collection}' ready: scaler fitted on {path}")
                return 0
        report = indexer.run(path, schema=schema, force=force, on_error=log)
        total = store.count()
    finally:
        for encoder in encoders:
            getattr(encoder, "close", lambda: None)()
        log.close()
        store.close()
    if log.shown > SHOWN_ERRORS:
        where = f"all in {rejects}" if rejects else "use --rejects FILE"
        print(f"  … {log.shown - SHOWN_ERRORS} more problems ({where})", file=sys.stderr)
    if log.covers:
        print(f"  {log.covers} cover URLs failed; re-runs retry them", file=sys.stderr)
    print(
        f"{report.summary()}\ncollection '{settings.collection}' ({store.engine}): {total} points"
    )
    return 0
