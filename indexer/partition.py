"""`musicrec index FILE --part I/N`: N workers (on N machines) fill one server collection.

Each worker indexes the rows whose track id hashes into its part, so the parts are disjoint,
cover the catalog, and do not depend on the row order, the file's size or the worker's
machine (BLAKE2b of the UTF-8 id, not Python's salted `hash`). Re-running a part is as
idempotent as any `musicrec index` run: unchanged tracks are skipped by their content hash.

The audio scaler is fitted once, on the whole catalog, by whoever creates the collection —
`musicrec index FILE --fit-only`, or part 1 — and the other parts wait for it to appear in
the collection metadata, or stop with a message saying what to run.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.store import StoreError, VectorStore
from indexer.catalog import CatalogStats, read_catalog

if TYPE_CHECKING:
    from indexer.pipeline import Indexer

_PART = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def bucket(track_id: str, parts: int) -> int:
    """0..parts-1, the same on every machine and Python version."""
    digest = hashlib.blake2b(track_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % parts


@dataclass(frozen=True)
class Part:
    index: int  # 1-based, as the user writes it
    count: int

    @classmethod
    def parse(cls, text: str) -> Part:
        match = _PART.match(text)
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"--part must be I/N with 1 <= I <= N (e.g. 2/4), got {text!r}")
        return cls(int(match[1]), int(match[2]))

    def owns(self, track_id: str) -> bool:
        return bucket(track_id, self.count) == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def has_scaler(store: VectorStore) -> bool:
    return store.exists() and bool(store.read_metadata().get("audio_scaler"))


def ensure_collection(
    indexer: Indexer,
    path: Path,
    schema: str,
    part: Part | None,
    wait_seconds: float,
    poll_seconds: float = 2.0,
) -> None:
    """Create the collection and fit the scaler (`part` None, i.e. --fit-only, or part 1), or
    wait up to `wait_seconds` for the worker that does."""
    if part is None or part.index == 1:
        # The first rows of the file (not of this part) fit the scaler: every worker's
        # collection would be fitted the same, whichever created it.
        stats = CatalogStats()
        indexer.prepare(
            path,
            read_catalog(path, schema=schema, stats=stats, cover_dir=indexer.cover_local_dir),
            stats,
        )
        return
    deadline = time.monotonic() + wait_seconds
    while not has_scaler(indexer.store):
        if time.monotonic() >= deadline:
            raise StoreError(
                f"part {part}: collection '{indexer.store.collection}' has no audio scaler "
                f"after {wait_seconds:.0f}s. Fit it once on the whole catalog first "
                f"(`musicrec index {path} --fit-only`) or start part 1/{part.count}."
            )
        time.sleep(poll_seconds)
