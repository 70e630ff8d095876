"""Recommendations as a straight pipeline, free of HTTP so the evaluation runs the same code:

    seeds → candidate sources → pool (hydrated once) → signals → ranker → results

Seed-only requests are the engine's fused content query as it ranks it. Personalised ones
pool the content candidates with the collaborative model's own favourites, fetch the
missing points in one call, score every candidate in every modality and collaboratively,
and let the ranker order them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.collab.holder import ModelHolder
from core.interactions.store import InteractionStore
from core.recommend.candidates import gather, hydrate
from core.recommend.errors import UnknownUserError
from core.recommend.rankers import LinearBlend, ScoredCandidate
from core.recommend.results import Personalization, RankedTrack, Recommendation
from core.recommend.seeds import SeedQuery, complete_weights, fetch_seeds, seed_query
from core.recommend.signals import collaborative_scores, similarities
from core.recommend.sources import CandidateSource, CollaborativeSource, ContentSource
from core.store import VectorStore
from schemas.api import Filters

USER_SEEDS = 50  # a user's most recent tracks that seed their recommendations


@dataclass(frozen=True)
class SeedRequest:
    """A recommendation asked by seeds (and optionally for a user)."""

    positive: Sequence[str]
    negative: Sequence[str] = ()
    weights: Mapping[str, float] = field(default_factory=dict)
    filters: Filters = field(default_factory=Filters)
    limit: int = 10
    offset: int = 0
    user_id: str | None = None
    collab_weight: float | None = None


@dataclass
class Recommender:
    store: VectorStore
    content: ContentSource
    collab: ModelHolder | None = None
    history: InteractionStore | None = None
    default_weights: Mapping[str, float] = field(default_factory=dict)
    collab_weight: float = 0.8
    candidate_pool: int = 200

    def recommend(self, req: SeedRequest) -> Recommendation:
        seeds = fetch_seeds(self.store, [*req.positive, *req.negative])
        weights = complete_weights(req.weights, self.default_weights)
        q = seed_query(
            req.positive, req.negative, seeds, weights, req.filters, list(seeds), req.user_id
        )
        return self._answer(q, req.limit, req.offset, req.collab_weight)

    def recommend_for_user(
        self,
        user_id: str,
        *,
        limit: int,
        offset: int = 0,
        filters: Filters | None = None,
        weights: Mapping[str, float] | None = None,
        collab_weight: float | None = None,
    ) -> Recommendation:
        """Seeded by the user's most recent tracks; everything they already know excluded."""
        recent = self.history.recent(user_id) if self.history else []
        model = self.collab.current() if self.collab else None
        known = sorted(model.known_items(user_id)) if model and model.has_user(user_id) else []
        history = list(dict.fromkeys([*recent, *known]))
        if not history:
            raise UnknownUserError(f"user '{user_id}' has no interactions yet")
        seeds = fetch_seeds(self.store, history[:USER_SEEDS], strict=False)
        if not seeds:
            raise UnknownUserError(f"none of user '{user_id}''s tracks is in the collection")
        q = seed_query(
            list(seeds),
            [],
            seeds,
            complete_weights(weights or {}, self.default_weights),
            filters or Filters(),
            history,
            user_id,
        )
        return self._answer(q, limit, offset, collab_weight)

    def _answer(
        self, q: SeedQuery, limit: int, offset: int, collab_weight: float | None
    ) -> Recommendation:
        used = {k: q.weights[k] for k in q.queries}
        if q.user_id is None:
            hits = self.content.search(q, limit, offset)
            items = [
                RankedTrack.from_payload(
                    h.payload,
                    score=h.score,
                    similarities=similarities(q.queries, h.vectors),
                    sources=[self.content.name],
                )
                for h in hits
            ]
            return Recommendation(items, self.content.fusion, list(q.queries), used)
        w = self.collab_weight if collab_weight is None else collab_weight
        personalization = self._personalization(q.user_id, w)
        sources: list[CandidateSource] = [self.content]
        if personalization.status == "applied" and self.collab is not None:
            sources.append(CollaborativeSource(self.collab))
        # Ranking needs a pool wider than the page; the page is cut after ranking.
        pool = hydrate(self.store, gather(sources, q, max(self.candidate_pool, offset + limit)), q)
        scored = [
            ScoredCandidate(c, similarities(q.queries, c.record.vectors))  # type: ignore[union-attr]
            for c in pool
        ]
        model = self.collab.current() if self.collab else None
        if personalization.status == "applied" and model is not None and scored:
            raw = collaborative_scores(
                model,
                q.user_id,
                [s.candidate.record.payload for s in scored],  # type: ignore[union-attr]
            )
            for s, value in zip(scored, raw.tolist(), strict=True):
                s.collaborative = value
        ranked = LinearBlend(personalization.collab_weight).rank(scored, q.weights)
        return Recommendation(
            ranked[offset : offset + limit],
            self.content.fusion,
            list(q.queries),
            used,
            personalization,
        )

    def _personalization(self, user_id: str, collab_weight: float) -> Personalization:
        model = self.collab.current() if self.collab else None
        version = self.collab.version if self.collab else None
        if model is None:
            status = "no-model"
        elif collab_weight == 0:
            status = "off"  # the model is not consulted at all
        elif not model.has_user(user_id):
            status = "unknown-user"
        else:
            return Personalization(user_id, "applied", collab_weight, version)
        return Personalization(user_id, status, 0.0, version)
