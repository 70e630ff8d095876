"""Rankers order the hydrated pool; every ranker implements `rankers.base.Ranker`."""

from core.recommend.rankers.base import Ranker, ScoredCandidate
from core.recommend.rankers.blend import LinearBlend
from core.recommend.rankers.learned import LearnedRanker

__all__ = ["LearnedRanker", "LinearBlend", "Ranker", "ScoredCandidate"]
