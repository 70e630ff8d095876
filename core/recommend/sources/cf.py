"""The strong collaborative sources — EASE, iALS, RP3β and similar listeners (UserKNN) — one
class, one instance per fitted model (`core.recommend.cf_models`): the model's best tracks for
the query's history (its seeds plus what the interaction matrix knows the user holds).

The models are the ones of the request's ranker artefact (`query.snapshot`): fitted on its
interaction matrix, published and hot-reloaded with it. Like co-occurrence they score the
history, not a user id, so they serve new listeners and seed requests too. A history the
model knows nothing of, or no model, proposes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.recommend.seeds import SeedQuery
from core.recommend.sources.base import Proposal


@dataclass
class CFSource:
    name: str  # the model's name in `CFScores` (ease, ials, rp3beta, userknn)

    def propose(self, query: SeedQuery, n: int) -> list[Proposal]:
        index = query.snapshot.index
        scores = query.cf_scores(self.name) if n > 0 else None
        if index is None or scores is None:
            return []
        # `top` keeps positive scores only: a negative EASE or iALS score is no recommendation.
        known = np.nan_to_num(scores, nan=-np.inf)
        return [Proposal(t, s) for t, s in index.top(known, n, query.excluded)]
