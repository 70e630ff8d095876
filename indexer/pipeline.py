"""The indexing run: catalog → encoders → store, in batches, resumable and idempotent.

Why it is safe to interrupt: every batch is upserted under stable point ids (UUID5 of the
track id) and flushed before the next one starts, and each point carries a content hash.
A re-run skips every track whose hash is unchanged and (re)writes the rest, so an
interrupted run, re-run, ends with exactly one point per accepted track.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.encoders.audio import AudioEncoder, AudioScaler
from core.encoders.base import Encoder
from core.encoders.factory import build_lyrics_encoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store import PointRecord, StoreError, VectorStore
from indexer.catalog import CatalogError, CatalogStats, RowError, read_catalog
from indexer.covers import build_cover_url_encoder
from schemas.layout import (
    AUDIO,
    COVER,
    LYRICS,
    LYRICS_TERMS,
    CollectionLayout,
    build_layout,
    check_compatible,
)
from schemas.settings import Settings
from schemas.tracks import Track, point_id
from schemas.vectors import SparseVector, Vector

log = logging.getLogger(__name__)

# Tracks read ahead to fit a new collection's audio scaler: every row of catalogs up to this
# size (the evaluation's), a bounded sample of larger ones (memory: these tracks wait in RAM).
SCALER_SAMPLE = 50_000
# Marks a point stored without a vector its input should have given, so re-runs retry it.
INCOMPLETE = "~incomplete"

# Which part of a Track each modality's encoder reads.
INPUTS: dict[str, Callable[[Track], Any]] = {
    LYRICS: lambda t: t.lyrics,
    LYRICS_TERMS: lambda t: t.lyrics,
    AUDIO: lambda t: t.audio,
    COVER: lambda t: t.album_url,
}


@dataclass
class IndexReport:
    indexed: int = 0
    unchanged: int = 0
    missing: Counter[str] = field(default_factory=Counter)  # tracks stored without a vector
    catalog: CatalogStats = field(default_factory=CatalogStats)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return sum(self.catalog.rejected.values())

    def summary(self) -> str:
        rate = self.indexed / self.seconds if self.seconds else 0.0
        rejected = ", ".join(f"{n} {why}" for why, n in self.catalog.rejected.most_common())
        missing = ", ".join(f"{n} without {name}" for name, n in sorted(self.missing.items()))
        legacy = self.catalog.not_utf8
        encoding = f"; {legacy} lines not UTF-8, read as Windows-1252/latin-1" if legacy else ""
        return (
            f"indexed {self.indexed}, skipped unchanged {self.unchanged}, "
            f"rejected rows {self.rejected}{f' ({rejected})' if rejected else ''}"
            f"{f'; {missing}' if missing else ''}{encoding}; "
            f"{self.seconds:.1f}s ({rate:.1f} tracks/s)"
        )


def build_index_encoders(
    settings: Settings, on_cover_error: Callable[[str, str], None] | None = None
) -> list[Encoder]:
    """The model-backed encoders of an indexing run (audio comes from the stored scaler)."""
    encoders: list[Encoder] = [build_lyrics_encoder(settings), LyricsTermsEncoder()]
    covers = build_cover_url_encoder(settings, on_cover_error)
    if covers is not None:
        encoders.append(covers)
    return encoders


def audio_encoder_for(store: VectorStore) -> AudioEncoder | None:
    """The audio encoder bound to the scaler stored with the collection (None before indexing)."""
    scaler = store.read_metadata().get("audio_scaler")
    return AudioEncoder(AudioScaler.from_dict(scaler)) if scaler else None


class Indexer:
    def __init__(
        self,
        store: VectorStore,
        encoders: list[Encoder],
        *,
        batch_size: int = 256,
        optimize_above: int = 20_000,
        progress: bool = True,
        keep: Callable[[str], bool] | None = None,
        scaler_sample: int = SCALER_SAMPLE,
        min_free_bytes: int = 0,
        space_paths: Sequence[Path] = (),
        cover_local_dir: Path = Path("covers"),
    ) -> None:
        """`encoders` are the model-backed ones (lyrics, cover); the audio encoder is made
        from the collection's stored scaler, or fitted on the first catalog indexed.
        Before creating the collection and before each batch, each of `space_paths` (the
        embedded store, the cover cache) must have `min_free_bytes` free. Local covers must
        lie under `cover_local_dir`, relative to the catalog (`indexer.local_covers`)."""
        if scaler_sample < 1:
            raise ValueError(f"scaler_sample must be >= 1, got {scaler_sample}")
        self.store = store
        self.model_encoders = encoders
        self.batch_size = batch_size
        self.optimize_above = optimize_above
        self.progress = progress
        self.keep = keep  # a track id filter: this worker's part (indexer/partition.py)
        self.scaler_sample = scaler_sample
        self.min_free_bytes = min_free_bytes
        self.space_paths = list(space_paths)
        self.cover_local_dir = cover_local_dir

    def _layout(self, audio: AudioEncoder) -> CollectionLayout:
        encoders = [*self.model_encoders, audio]
        return build_layout(
            {e.vector_name: (e.dim, e.encoder_id) for e in encoders if not e.sparse},
            {e.vector_name: e.encoder_id for e in encoders if e.sparse},
        )

    def prepare(
        self, path: Path, batches: Iterator[list[Track]], stats: CatalogStats
    ) -> tuple[list[Encoder], Iterator[list[Track]]]:
        """Open or create the collection; returns all encoders (audio included) and the batches
        still to index.

        A new collection's audio scaler is fitted on the first `scaler_sample` tracks, read
        ahead from the same pass and then indexed like the rest: the file is parsed once.
        """
        audio = audio_encoder_for(self.store) if self.store.exists() else None
        if audio is not None:
            stored = self.store.layout()
            assert stored is not None
            check_compatible(stored, self._layout(audio))
            return [*self.model_encoders, audio], batches
        ahead: list[list[Track]] = []
        for batch in batches:
            ahead.append(batch)
            if sum(map(len, ahead)) >= self.scaler_sample:
                break
        read = sum(map(len, ahead))
        if read == 0:
            raise CatalogError(
                f"cannot create collection '{self.store.collection}': {path} has no usable "
                f"track ({stats.summary()})"
            )
        try:
            scaler = AudioScaler.fit(t.audio for batch in ahead for t in batch)
        except ValueError as exc:
            raise CatalogError(
                f"cannot create collection '{self.store.collection}' from {path}: {exc} (none "
                f"of its first {read} accepted tracks has them). The first catalog indexed into "
                "a collection fits the audio scaler: index one with audio features first (e.g. "
                "the Kaggle file), then this one."
            ) from exc
        audio = AudioEncoder(scaler)
        self._check_space()
        self.store.create(
            self._layout(audio),
            {
                "audio_scaler": scaler.to_dict(),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": str(path),
            },
        )
        return [*self.model_encoders, audio], itertools.chain(ahead, batches)

    def run(
        self,
        path: str | Path,
        *,
        schema: str = "auto",
        force: bool = False,
        on_error: Callable[[RowError], None] | None = None,
    ) -> IndexReport:
        path = Path(path)
        started = time.perf_counter()
        report = IndexReport()
        bar = tqdm(
            total=path.stat().st_size if path.is_file() else None,
            unit="B",
            unit_scale=True,
            desc=f"indexing {path.name}",
            disable=not self.progress,
        )
        try:
            # One pass over the file: the batches read ahead to fit a new collection's
            # scaler are indexed from memory, then reading goes on where it stopped.
            batches = read_catalog(
                path,
                schema=schema,
                chunk_size=self.batch_size,
                on_error=on_error,
                on_progress=bar.update,
                stats=report.catalog,
                cover_dir=self.cover_local_dir,
            )
            encoders, batches = self.prepare(path, batches, report.catalog)
        except BaseException:
            bar.close()
            raise
        encoder_ids = {e.vector_name: e.encoder_id for e in encoders}
        # Three stages overlap: the reader thread parses batch N+1 and looks up its stored
        # hashes, this thread encodes batch N, the writer thread upserts batch N-1. The
        # lookup cannot depend on a write still in flight because a catalog never yields a
        # track id twice (the reader rejects duplicates). One write at a time, in catalog
        # order, each flushed before `indexed` counts it, so an interrupted run re-does at
        # most the batches that were not yet stored.
        with (
            ThreadPoolExecutor(1, "index-read") as reader,
            ThreadPoolExecutor(1, "index-write") as writer,
        ):
            writing: Future[None] | None = None
            checking = reader.submit(self._next_todo, batches, encoder_ids, force, report)
            try:
                while (todo := checking.result()) is not None:
                    checking = reader.submit(self._next_todo, batches, encoder_ids, force, report)
                    points = self._encode(*todo, encoders, report)
                    if writing is not None:
                        writing.result()
                    bar.set_postfix(indexed=report.indexed, unchanged=report.unchanged)
                    self._check_space()
                    writing = writer.submit(self._write, points, report)
                if writing is not None:
                    writing.result()
            finally:
                checking.cancel()
                bar.set_postfix(indexed=report.indexed, unchanged=report.unchanged)
                bar.close()
        if self.store.count() >= self.optimize_above:
            log.info("building HNSW indexes")
            self.store.optimize()
        report.seconds = time.perf_counter() - started
        return report

    def _next_todo(
        self,
        batches: Iterator[list[Track]],
        encoder_ids: dict[str, str],
        force: bool,
        report: IndexReport,
    ) -> tuple[list[Track], dict[str, str]] | None:
        """The next batch's tracks whose stored hash differs (and their hashes); None at end."""
        for batch in batches:
            if self.keep is not None:
                batch = [t for t in batch if self.keep(t.id)]
            hashes = {t.id: t.content_hash(encoder_ids) for t in batch}
            if force:
                return batch, hashes
            existing = self.store.retrieve([point_id(t.id) for t in batch])
            stored = {r.payload.get("track_id"): r.payload.get("content_hash") for r in existing}
            todo = [t for t in batch if stored.get(t.id) != hashes[t.id]]
            report.unchanged += len(batch) - len(todo)
            if todo:
                return todo, hashes
        return None

    def _encode(
        self,
        todo: list[Track],
        hashes: dict[str, str],
        encoders: list[Encoder],
        report: IndexReport,
    ) -> list[PointRecord]:
        vectors: list[dict[str, Vector]] = [{} for _ in todo]
        for encoder in encoders:
            name = encoder.vector_name
            inputs = [INPUTS[name](t) for t in todo]
            encoded = encoder.encode(inputs)
            for track, given, slot, vec in zip(todo, inputs, vectors, encoded, strict=True):
                if vec is not None:
                    slot[name] = vec if isinstance(vec, SparseVector) else vec.tolist()
                    continue
                report.missing[name] += 1
                if given:
                    # The input was there but could not be encoded (a cover that failed to
                    # download): leave the hash stale so the next run tries again.
                    hashes[track.id] += INCOMPLETE
        return [
            PointRecord(point_id(t.id), vecs, {**t.payload(), "content_hash": hashes[t.id]})
            for t, vecs in zip(todo, vectors, strict=True)
        ]

    def _check_space(self) -> None:
        """Stop cleanly before a write a full disk would turn into a bus error in the engine."""
        for path in self.space_paths:
            existing = next((p for p in (path, *path.parents) if p.exists()), None)
            if existing is None or not self.min_free_bytes:
                continue
            free = shutil.disk_usage(existing).free
            if free < self.min_free_bytes:
                raise StoreError(
                    f"only {free // 2**20} MB free on the disk of {path}, below the "
                    f"{self.min_free_bytes // 2**20} MB MUSICREC_INDEX_MIN_FREE_MB asks for: "
                    "stopped before the next batch (every batch stored so far is kept; free "
                    "some space and run again to resume)"
                )

    def _write(self, points: list[PointRecord], report: IndexReport) -> None:
        self.store.upsert(points)  # flushed before it returns
        report.indexed += len(points)
