"""Per-candidate signals the rankers use: per-modality cosines and the collaborative score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.collab.model import CollaborativeModel
from schemas.tracks import Track
from schemas.vectors import Vector, cosine


def similarities(
    queries: Mapping[str, Vector], vectors: Mapping[str, Vector]
) -> dict[str, float | None]:
    """Cosine to the query in each modality used; None where the track has no vector (fusion
    ranks by rank, so the raw cosines are recomputed here to explain each result)."""
    return {
        name: round(cosine(q, vectors[name]), 6) if name in vectors else None
        for name, q in queries.items()
    }


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
