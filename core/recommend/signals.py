"""Per-candidate signals the rankers use: per-modality cosines and the collaborative score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import chain
from typing import Any, cast

import numpy as np

from core.collab.model import CollaborativeModel
from core.store import PointRecord, ScoredRecord, VectorStore
from schemas.tracks import Track
from schemas.vectors import SparseVector, Vector


class Similarity:
    """Cosine to the query in each modality used, per stored point; None where the point has no
    vector of that kind (fusion ranks by rank, so the cosines are asked again to explain each
    result, and the learned ranker reads them as features).

    Dense cosines come from the engine (`VectorStore.score_points`: one exact query per
    modality restricted to the points' ids, scores only): the points' dense vectors never pass
    through Python. Pulling them (hundreds of candidates x every dense dimension) was the
    largest per-candidate cost of a personalised request (docs/performance.md, "The
    personalised path"). The sparse BM25 terms are small and come with
    the points (`sparse_names`): their plain cosine is computed here, because the engine's
    sparse score is IDF-weighted and unbounded, and the page shows a cosine."""

    def __init__(self, store: VectorStore, queries: Mapping[str, Vector]) -> None:
        self.store = store
        self.order = list(queries)
        self.dense = {k: v for k, v in queries.items() if not isinstance(v, SparseVector)}
        self.sparse: dict[str, SparseVector] = {
            k: v for k, v in queries.items() if isinstance(v, SparseVector)
        }

    def many(self, points: Sequence[PointRecord | ScoredRecord]) -> list[dict[str, float | None]]:
        """One dict per point, in the query's modality order."""
        out: list[dict[str, float | None]] = [dict.fromkeys(self.order) for _ in points]
        if not points:
            return out
        ids = [p.id for p in points]
        for name, q in self.dense.items():
            scores = self.store.score_points(name, q, ids)
            for i, pid in enumerate(ids):
                if pid in scores:
                    out[i][name] = round(scores[pid], 6)
        for name, terms in self.sparse.items():
            for i, value in sparse_cosines(terms, [p.vectors.get(name) for p in points]).items():
                out[i][name] = value
        return out


def sparse_names(queries: Mapping[str, Vector]) -> list[str]:
    """The sparse modalities of a query: the only vectors a pool's points are read with."""
    return [k for k, v in queries.items() if isinstance(v, SparseVector)]


def sparse_cosines(query: SparseVector, vectors: Sequence[Vector | None]) -> dict[int, float]:
    """Position → cosine of `query` with each sparse vector (positions without one left out),
    as one vectorised pass over all their terms (summing a pool's terms one by one in Python
    generators was a visible share of a request: docs/performance.md)."""
    rows = [i for i, v in enumerate(vectors) if isinstance(v, SparseVector)]
    if not rows or not query:
        return dict.fromkeys(rows, 0.0)
    vs = [cast(SparseVector, vectors[i]) for i in rows]
    lengths = np.fromiter((len(v.indices) for v in vs), np.int64, len(vs))
    total = int(lengths.sum())
    idx = np.fromiter(chain.from_iterable(v.indices for v in vs), np.int64, total)
    val = np.fromiter(chain.from_iterable(v.values for v in vs), np.float64, total)
    seg = np.repeat(np.arange(len(vs)), lengths)
    q_idx = np.asarray(query.indices, np.int64)
    q_val = np.asarray(query.values, np.float64)
    order = np.argsort(q_idx)
    q_idx, q_val = q_idx[order], q_val[order]
    pos = np.minimum(np.searchsorted(q_idx, idx), len(q_idx) - 1)
    weight = np.where(q_idx[pos] == idx, q_val[pos], 0.0)
    dot = np.bincount(seg, val * weight, minlength=len(vs))
    norms = np.sqrt(np.bincount(seg, val * val, minlength=len(vs)))
    cos = dot / np.maximum(norms * max(query.norm(), 1e-12), 1e-12)
    return dict(zip(rows, np.round(cos, 6).tolist(), strict=True))


def collaborative_scores(
    model: CollaborativeModel, user_id: str, payloads: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """LightFM scores for the candidates; tracks the model never saw (indexed after training)
    are scored from their metadata features (cold start) instead of being left out."""
    scores = model.score(user_id, [p["track_id"] for p in payloads])
    cold = np.flatnonzero(np.isnan(scores))
    if len(cold):
        scores[cold] = model.score_tracks(
            user_id, [Track.from_payload(dict(payloads[int(i)])) for i in cold]
        )
    return scores
