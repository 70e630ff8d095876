"""Per-candidate signals the rankers use: per-modality cosines and the collaborative score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.collab.model import CollaborativeModel
from schemas.tracks import Track
from schemas.vectors import SparseVector, Vector


class Similarity:
    """Cosine to the query in each modality used; None where the track has no vector of that
    kind (fusion ranks by rank, so the raw cosines are recomputed here to explain each result).

    The query side (unit vector, sparse weights and norm) is prepared once: a personalised
    pool asks for hundreds of candidates against the same query."""

    def __init__(self, queries: Mapping[str, Vector]) -> None:
        self.dense: dict[str, np.ndarray] = {}
        self.sparse: dict[str, tuple[dict[int, float], float]] = {}
        for name, q in queries.items():
            if isinstance(q, SparseVector):
                self.sparse[name] = (q.as_dict(), max(q.norm(), 1e-12))
            else:
                v = np.asarray(q, dtype=np.float64)
                self.dense[name] = v / max(float(np.linalg.norm(v)), 1e-12)
        self.order = list(queries)

    def __call__(self, vectors: Mapping[str, Vector]) -> dict[str, float | None]:
        return self.many([vectors])[0]

    def many(self, points: Sequence[Mapping[str, Vector]]) -> list[dict[str, float | None]]:
        """One dict per point. Dense cosines are one matrix product per modality: a pool is
        ~600 candidates, and converting their vectors one by one cost more than the search."""
        out: list[dict[str, float | None]] = [dict.fromkeys(self.order) for _ in points]
        for name, unit in self.dense.items():
            rows = [
                i
                for i, p in enumerate(points)
                if p.get(name) is not None and not isinstance(p[name], SparseVector)
            ]
            if rows:
                x = np.array([points[i][name] for i in rows], dtype=np.float64)
                norms = np.maximum(np.linalg.norm(x, axis=1), 1e-12)
                for i, value in zip(rows, np.round(x @ unit / norms, 6).tolist(), strict=True):
                    out[i][name] = value
        for name, (weights, norm) in self.sparse.items():
            for i, p in enumerate(points):
                v = p.get(name)
                if isinstance(v, SparseVector):
                    pairs = zip(v.indices, v.values, strict=True)
                    dot = sum(x * weights.get(j, 0.0) for j, x in pairs)
                    out[i][name] = round(dot / (norm * max(v.norm(), 1e-12)), 6)
        return out


def similarities(
    queries: Mapping[str, Vector], vectors: Mapping[str, Vector]
) -> dict[str, float | None]:
    return Similarity(queries)(vectors)


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
