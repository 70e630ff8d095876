"""The linear blend: min-max normalised content and collaborative scores, mixed by weight."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from core.recommend.rankers.base import ScoredCandidate
from core.recommend.results import RankedTrack


def _minmax(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def content_similarity(sims: Mapping[str, float | None], weights: Mapping[str, float]) -> float:
    """Weighted mean of the per-modality cosines the track has: unlike a fused RRF score it
    is comparable between candidates found by different sources."""
    pairs = [(weights[m], s) for m, s in sims.items() if s is not None]
    total = sum(w for w, _ in pairs)
    return sum(w * s for w, s in pairs) / total if total > 0 else 0.0


@dataclass(frozen=True)
class LinearBlend:
    collab_weight: float
    name: str = "linear-blend"

    def rank(
        self,
        candidates: Sequence[ScoredCandidate],
        weights: Mapping[str, float],
        limit: int | None = None,
    ) -> list[RankedTrack]:
        content = _minmax(
            np.array([content_similarity(c.similarities, weights) for c in candidates], float)
        )
        has_collab = bool(candidates) and all(c.collaborative is not None for c in candidates)
        social = (
            _minmax(np.array([c.collaborative for c in candidates], dtype=np.float64))
            if has_collab
            else None
        )
        w = self.collab_weight
        mixed = content if social is None else (1 - w) * content + w * social
        order = np.argsort(-mixed, kind="stable")[:limit]
        return [
            candidates[i].result(
                round(float(mixed[i]), 6),
                content_score=round(float(content[i]), 6),
                collaborative_score=None if social is None else round(float(social[i]), 6),
                blended_score=round(float(mixed[i]), 6),
            )
            for i in order
        ]
