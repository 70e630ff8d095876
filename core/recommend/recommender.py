"""Recommendations as a straight pipeline, free of HTTP so the evaluation runs the same code:

    seeds → candidate sources → pool (hydrated once) → signals → ranker → results

Seed-only requests are the engine's fused content query as it ranks it. Personalised ones
pool what every source proposes (content, LightFM, co-occurrence, same artist, co-listened
artists, popularity, and the collaborative models EASE, iALS, RP3β and similar listeners),
fetch the missing points in one call, compute every candidate's signals and let the ranker
order them: the learned ranker (LightGBM LambdaRank, `rankers.learned`)
when its artefact is loaded and the request does not ask for a `collab_weight`, else the
linear blend of content and LightFM (the manual control, and the fallback without a ranker
artefact).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from core.collab.model import CollaborativeModel
from core.interactions.store import InteractionStore
from core.recommend.candidates import gather, hydrate
from core.recommend.errors import UnknownUserError
from core.recommend.features import QueryContext, feature_rows
from core.recommend.rankers import LearnedRanker, LinearBlend, ScoredCandidate
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.results import Personalization, RankedTrack, Recommendation
from core.recommend.seeds import SeedQuery, complete_weights, fetch_seeds, seed_query
from core.recommend.signals import Similarity, collaborative_scores, similarities
from core.recommend.sources import (
    ArtistSource,
    CandidateSource,
    CFSource,
    ColistenedSource,
    CollaborativeSource,
    ContentSource,
    CooccurrenceSource,
    PopularitySource,
)
from core.recommend.sources.base import query_history
from core.store import VectorStore
from schemas.api import Filters

T = TypeVar("T", covariant=True)


class Holder(Protocol[T]):
    """What serves an artefact: `core.artefacts.ArtefactHolder` (hot reload) or `Fixed`."""

    @property
    def version(self) -> str | None: ...

    def current(self) -> T | None: ...


@dataclass(frozen=True)
class PoolSizes:
    """How many candidates each source proposes (settings `pool_*`); content uses
    `Recommender.candidate_pool`."""

    collaborative: int = 200
    cooccurrence: int = 200
    artist: int = 50
    colistened: int = 50
    popularity: int = 50
    ease: int = 100
    ials: int = 100
    rp3beta: int = 100
    userknn: int = 100


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
    collab: Holder[CollaborativeModel] | None = None
    history: InteractionStore | None = None
    default_weights: Mapping[str, float] = field(default_factory=dict)
    collab_weight: float = 0.8
    candidate_pool: int = 200
    ranker: Holder[RankerArtefact] | None = None
    pools: PoolSizes = field(default_factory=PoolSizes)

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
        q = self.user_query(user_id, filters=filters, weights=weights)
        return self._answer(q, limit, offset, collab_weight)

    def user_query(
        self,
        user_id: str,
        *,
        filters: Filters | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> SeedQuery:
        """The user's history (recorded events, then what the model and the ranker's
        interaction matrix know) as seeds and exclusions."""
        recent = self.history.recent(user_id) if self.history else []
        model = self.collab.current() if self.collab else None
        known = sorted(model.known_items(user_id)) if model and model.has_user(user_id) else []
        artefact = self.ranker.current() if self.ranker else None
        held = sorted(artefact.index.user_tracks(user_id)) if artefact is not None else []
        history = list(dict.fromkeys([*recent, *known, *held]))
        if not history:
            raise UnknownUserError(f"user '{user_id}' has no interactions yet")
        seeds = fetch_seeds(self.store, history[:USER_SEEDS], strict=False)
        if not seeds:
            raise UnknownUserError(f"none of user '{user_id}''s tracks is in the collection")
        return seed_query(
            list(seeds),
            [],
            seeds,
            complete_weights(weights or {}, self.default_weights),
            filters or Filters(),
            history,
            user_id,
        )

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
        artefact = self.ranker.current() if self.ranker else None
        learned = collab_weight is None and artefact is not None and artefact.booster is not None
        w = self.collab_weight if collab_weight is None else collab_weight
        personalization = self._personalization(q.user_id, None if learned else w)
        # Ranking needs a pool wider than the page; the page is cut after ranking.
        scored = self.scored_pool(
            q,
            max(self.candidate_pool, offset + limit),
            collab=personalization.status == "applied",
            artefact=artefact if learned else None,
        )
        if learned:
            assert artefact is not None and artefact.booster is not None
            ranker = LearnedRanker(artefact.booster, explain_top=offset + limit)
            version = self.ranker.version if self.ranker else None
            personalization = replace(personalization, ranker="learned", ranker_version=version)
            ranked = ranker.rank(scored, q.weights, offset + limit)
        else:
            blend = LinearBlend(personalization.collab_weight or 0.0)
            ranked = blend.rank(scored, q.weights, offset + limit)
        return Recommendation(
            ranked[offset:],
            self.content.fusion,
            list(q.queries),
            used,
            personalization,
        )

    def scored_pool(
        self, q: SeedQuery, n: int, *, collab: bool, artefact: RankerArtefact | None
    ) -> list[ScoredCandidate]:
        """The hydrated pool with every candidate's signals; with a ranker artefact, all the
        sources take part and each candidate gets its feature row (training calls this too,
        with the artefact built from the feature part of the interactions)."""
        model = self.collab.current() if self.collab and collab else None
        index = artefact.index if artefact is not None else None
        sources: list[tuple[CandidateSource, int]] = [(self.content, n)]
        if model is not None and self.collab is not None:
            sources.append((CollaborativeSource(self.collab), self.pools.collaborative))
        if artefact is not None:
            sources += [
                (CooccurrenceSource(lambda: index), self.pools.cooccurrence),
                (ArtistSource(self.content), self.pools.artist),
                (ColistenedSource(lambda: index), self.pools.colistened),
                (PopularitySource(lambda: index), self.pools.popularity),
            ]
            cf = artefact.cf
            if cf is not None:
                sources += [(CFSource(n, lambda: cf), getattr(self.pools, n)) for n in cf.names]
        pool = hydrate(self.store, gather(sources, q), q)
        cosines = Similarity(q.queries).many([c.record.vectors for c in pool])  # type: ignore[union-attr]
        scored = [ScoredCandidate(c, s) for c, s in zip(pool, cosines, strict=True)]
        if model is not None and scored and q.user_id is not None:
            raw = collaborative_scores(
                model,
                q.user_id,
                [s.candidate.record.payload for s in scored],  # type: ignore[union-attr]
            )
            for s, value in zip(scored, raw.tolist(), strict=True):
                s.collaborative = value
        if artefact is not None:
            ctx = QueryContext(
                query_history(q, index),
                [q.seeds[t].payload for t in q.positive if t in q.seeds],
                index,
                artefact.cf,
            )
            rows = feature_rows(
                [s.candidate for s in scored],
                [s.similarities for s in scored],
                [s.collaborative for s in scored],
                ctx,
            )
            for s, row in zip(scored, rows, strict=True):
                s.features = row
        return scored

    def _personalization(self, user_id: str, collab_weight: float | None) -> Personalization:
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
        return Personalization(user_id, status, 0.0 if collab_weight is not None else None, version)
