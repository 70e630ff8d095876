"""The learned ranker: LightGBM LambdaRank over `core.recommend.features`, explained by
TreeSHAP contributions grouped per signal.

`Booster.predict(..., pred_contrib=True)` gives, per candidate, one additive contribution per
feature plus the base value; they sum to the raw score. Summed per explanation group
(`features.GROUPS`) they say how much lyrics, audio, LightFM, co-occurrence… moved this track.

Per-modality request weights steer the ranker through the same decomposition: the score of a
track becomes base + Σ_g w_g·φ_g with w_g the weight of modality g (1 for every other group),
so weight 2 on audio doubles what audio similarity does for or against every track, 0 removes
it, and the explanation still sums to the score. With all weights 1 it is the plain model
score; contributions are then computed for the returned page only (TreeSHAP is the costly
part of serving). One thread: a request is a few hundred rows, and OpenMP threads spinning on
cores the API's other requests need cost more than they save.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from core.recommend.features import DEFAULT_LAYOUT, FeatureLayout
from core.recommend.rankers.base import ScoredCandidate
from core.recommend.results import RankedTrack
from schemas.layout import MODALITIES

BASE = "base"


def group_contributions(contrib: np.ndarray, layout: FeatureLayout = DEFAULT_LAYOUT) -> np.ndarray:
    """(n, features + 1) TreeSHAP matrix → (n, groups + 1): per group, base value last."""
    out = np.zeros((contrib.shape[0], len(layout.group_order) + 1), dtype=np.float64)
    np.add.at(out.T, layout.group_of_column, contrib[:, :-1].T)
    out[:, -1] = contrib[:, -1]
    return out


@dataclass
class LearnedRanker:
    booster: lgb.Booster
    layout: FeatureLayout = DEFAULT_LAYOUT
    explain_top: int = 10  # how many of the best get their explanation
    version: str | None = None
    name: str = "learned"

    def rank(
        self,
        candidates: Sequence[ScoredCandidate],
        weights: Mapping[str, float],
        limit: int | None = None,
    ) -> list[RankedTrack]:
        if not candidates:
            return []
        x = np.vstack([c.features for c in candidates]).astype(np.float64)
        order_of_groups = self.layout.group_order
        scale = np.ones(len(order_of_groups) + 1)
        for m in MODALITIES:
            scale[order_of_groups.index(m)] = float(weights.get(m, 1.0))
        steered = not np.all(scale == 1.0)
        if steered:
            groups = self._contributions(x) * scale
            score = groups.sum(axis=1)
        else:
            score = self.booster.predict(x, num_threads=1)
        order = np.argsort(-score, kind="stable")[:limit]
        top = order[: self.explain_top]
        if not steered and len(top):
            explained = self._contributions(x[top])
        else:
            explained = groups[top] if len(top) else np.zeros((0, len(order_of_groups) + 1))
        explanations = {int(i): row for i, row in zip(top, explained, strict=True)}
        return [
            RankedTrack.from_payload(
                candidates[i].candidate.record.payload,  # type: ignore[union-attr]
                score=float(score[i]),
                similarities=candidates[i].similarities,
                sources=list(candidates[i].candidate.sources),
                explanation=(
                    self._explanation(explanations[int(i)]) if int(i) in explanations else None
                ),
            )
            for i in order
        ]

    def _contributions(self, x: np.ndarray) -> np.ndarray:
        contrib = self.booster.predict(x, pred_contrib=True, num_threads=1)
        return group_contributions(contrib, self.layout)

    def _explanation(self, row: np.ndarray) -> dict[str, float]:
        """Group → contribution (only groups that moved the score), plus the base value."""
        groups = self.layout.group_order
        out = {g: float(v) for g, v in zip(groups, row[:-1], strict=True) if v != 0.0}
        out[BASE] = float(row[-1])
        return out
