"""The ranker contract: scored candidates in, ranked results out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from core.recommend.candidates import Candidate
from core.recommend.results import RankedTrack


@dataclass
class ScoredCandidate:
    """A hydrated candidate with its signals; `collaborative` is the raw LightFM score, None
    when the model was not asked (no model, unknown user, collaborative weight 0); `features`
    is its row for the learned ranker (`core.recommend.features`)."""

    candidate: Candidate
    similarities: dict[str, float | None]
    collaborative: float | None = None
    features: np.ndarray | None = None

    def result(self, score: float, **scores: Any) -> RankedTrack:
        """This candidate as a ranked result (`scores`: what else placed it), the one way
        every ranker builds one."""
        record = self.candidate.record
        assert record is not None, "only hydrated candidates are ranked"
        return RankedTrack.from_payload(
            record.payload,
            score=score,
            similarities=self.similarities,
            sources=list(self.candidate.sources),
            **scores,
        )


def feature_matrix(candidates: Sequence[ScoredCandidate]) -> np.ndarray:
    """The candidates' feature rows as one (n, features) matrix (training and serving)."""
    rows = [c.features for c in candidates]
    if any(r is None for r in rows):
        raise ValueError("a candidate without its feature row (pool scored without features)")
    return np.vstack([r for r in rows if r is not None])


class Ranker(Protocol):
    @property
    def name(self) -> str: ...

    def rank(
        self,
        candidates: Sequence[ScoredCandidate],
        weights: Mapping[str, float],
        limit: int | None = None,
    ) -> list[RankedTrack]:
        """The best `limit` candidates (all when None), each once, best first, with the scores
        that placed it. Only those become results: building one costs more than scoring it,
        and a pool is ~600 candidates for a page of 10."""
        ...
