"""Collaborative candidates: the LightFM model's own top tracks for the user.

Without them the hybrid could only reorder what the content query happened to find
(docs/evaluation.md measured that cap).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal


@dataclass
class CollaborativeSource:
    name: str = "collaborative"

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        model = query.snapshot.model
        if query.user_id is None or model is None or not model.has_user(query.user_id) or n <= 0:
            return []
        excluded = query.excluded
        # The model excludes what it saw in training; recorded history is excluded here.
        ranked = model.recommend(query.user_id, n + len(excluded))
        return [Proposal(t, s) for t, s in ranked if t not in excluded][:n]
