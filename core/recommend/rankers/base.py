"""The ranker contract: scored candidates in, ranked results out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

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


class Ranker(Protocol):
    name: str

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
