"""Lyrics → sparse BM25 term weights (the `lyrics_terms` vector).

Dense sentence embeddings lose an artist's vocabulary, names and refrains; exact terms keep
them (on the billboard lyrics, TF-IDF beats all-MiniLM-L6-v2 at finding songs by the same
artist). Qdrant Edge's own BM25 embedder tokenizes for both engines, so the server path and
the embedded path index and query the very same terms; the engine applies IDF over the
collection (the `idf` modifier in the layout).
"""

from __future__ import annotations

from collections.abc import Sequence

import qdrant_edge as qe

from core.encoders.base import Encoder
from schemas.layout import LYRICS_TERMS
from schemas.vectors import SparseVector


def _convert(vector: qe.SparseVector) -> SparseVector | None:
    converted = SparseVector.from_pairs(zip(vector.indices, vector.values, strict=True))
    return converted or None


class LyricsTermsEncoder(Encoder[str]):
    vector_name = LYRICS_TERMS
    sparse = True
    dim = 0  # sparse: no fixed dimension

    def __init__(self, k: float = 1.2, b: float = 0.75, avg_len: float = 256.0) -> None:
        self.model = qe.Bm25(qe.Bm25Config(k=k, b=b, avg_len=avg_len, language="english"))
        self.encoder_id = f"bm25-english/k{k}-b{b}-len{avg_len:g}"

    # The Encoder contract is typed for dense vectors; this one returns sparse ones.
    def encode(self, items: Sequence[str | None]) -> list[SparseVector | None]:  # type: ignore[override]
        return [
            _convert(self.model.embed_document(text)) if text and text.strip() else None
            for text in items
        ]

    def encode_text(self, text: str) -> SparseVector:  # type: ignore[override]  # likewise
        return _convert(self.model.embed_query(text)) or SparseVector((), ())
