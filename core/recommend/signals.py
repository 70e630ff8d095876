"""Per-candidate signals the rankers use: per-modality cosines and the collaborative score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.collab.model import CollaborativeModel
from schemas.tracks import Track
from schemas.vectors import SparseVector, Vector


class Similarity:
    """Cosine to the query in each modality used; None where the track has no vector (fusion
    ranks by rank, so the raw cosines are recomputed here to explain each result).

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
        out: dict[str, float | None] = {}
        for name in self.order:
            v = vectors.get(name)
            if v is None:
                out[name] = None
            elif name in self.sparse and isinstance(v, SparseVector):
                weights, norm = self.sparse[name]
                dot = sum(x * weights.get(i, 0.0) for i, x in zip(v.indices, v.values, strict=True))
                out[name] = round(dot / (norm * max(v.norm(), 1e-12)), 6)
            else:
                x = np.asarray(v, dtype=np.float64)
                unit = self.dense[name] if name in self.dense else np.zeros_like(x)
                out[name] = round(float(unit @ x) / max(float(np.linalg.norm(x)), 1e-12), 6)
        return out


def similarities(
    queries: Mapping[str, Vector], vectors: Mapping[str, Vector]
) -> dict[str, float | None]:
    return Similarity(queries)(vectors)


def collaborative_scores(
    model: CollaborativeModel, user_id: str, payloads: Sequence[Mapping]
) -> np.ndarray:
    """LightFM scores for the candidates; tracks the model never saw (indexed after training)
    are scored from their metadata features (cold start) instead of being left out."""
    scores = model.score(user_id, [p["track_id"] for p in payloads])
    cold = np.flatnonzero(np.isnan(scores))
    if len(cold):
        scores[cold] = model.score_tracks(user_id, [Track.from_payload(payloads[i]) for i in cold])
    return scores
