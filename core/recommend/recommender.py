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

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from core.artefacts import Holder
from core.collab.model import CollaborativeModel
from core.interactions.database import DatabaseUnavailableError
from core.interactions.store import InteractionStore
from core.recommend.candidates import gather, hydrate
from core.recommend.cf_models import CF_NAMES
from core.recommend.errors import UnknownUserError
from core.recommend.features import FeatureLayout, QueryContext
from core.recommend.rankers import LearnedRanker, LinearBlend, Ranker, ScoredCandidate
from core.recommend.rankers.artefact import RankerArtefact
from core.recommend.results import (
    Personalization,
    PersonalizationStatus,
    RankedTrack,
    Recommendation,
)
from core.recommend.seeds import SeedQuery, complete_weights, fetch_seeds, seed_query
from core.recommend.signals import Similarity, collaborative_scores
from core.recommend.snapshot import Snapshot, take_snapshot
from core.recommend.sources import CandidateSource, ContentSource
from core.recommend.sources.registry import SourceSpec
from core.store import VectorStore
from schemas.api import Filters

USER_SEEDS = 50  # a user's most recent tracks that seed their recommendations
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveSource:
    """A switched-on source: its registry entry, the built source, its pool size."""

    spec: SourceSpec
    source: CandidateSource
    pool: int


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
    """Built by `core.recommend.factory.build_recommender` from the settings (the only place
    its parameters come from; tests/test_architecture.py keeps it that way)."""

    store: VectorStore
    content: ContentSource
    sources: Sequence[ActiveSource]
    layout: FeatureLayout
    default_weights: Mapping[str, float]
    collab_weight: float
    collab: Holder[CollaborativeModel] | None = None
    history: InteractionStore | None = None
    ranker: Holder[RankerArtefact] | None = None

    def snapshot(self) -> Snapshot:
        """The model and ranker artefact a request serves from, each holder read once."""
        return take_snapshot(self.collab, self.ranker)

    def recommend(self, req: SeedRequest) -> Recommendation:
        snapshot = self.snapshot()
        seeds = fetch_seeds(self.store, [*req.positive, *req.negative])
        weights = complete_weights(req.weights, self.default_weights)
        q = seed_query(
            req.positive,
            req.negative,
            seeds,
            weights,
            req.filters,
            list(seeds),
            req.user_id,
            snapshot,
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
        snapshot: Snapshot | None = None,
        explain: int | None = None,
        recent: Sequence[str] | None = None,
    ) -> Recommendation:
        """Seeded by the user's most recent tracks; everything they already know excluded;
        over `snapshot` (default: one taken now) and `recent`, the user's recent events
        (default: read now). The learned ranker explains the first `explain` tracks of the
        ranking (default: up to the page's end; TreeSHAP is its costly part)."""
        q = self.user_query(
            user_id, filters=filters, weights=weights, snapshot=snapshot, recent=recent
        )
        return self._answer(q, limit, offset, collab_weight, explain)

    def user_query(
        self,
        user_id: str,
        *,
        filters: Filters | None = None,
        weights: Mapping[str, float] | None = None,
        snapshot: Snapshot | None = None,
        recent: Sequence[str] | None = None,
    ) -> SeedQuery:
        """The user's history (recorded events, then what the model and the ranker's
        interaction matrix know) as seeds and exclusions, over `snapshot` (default: one
        taken now) and `recent` (default: the events read now)."""
        snap = snapshot or self.snapshot()
        if recent is None:
            try:
                recent = self.history.recent(user_id) if self.history else []
            except DatabaseUnavailableError as exc:
                # The database is down: the history the model and the ranker learned still
                # personalises; events recorded since they were trained are missing until
                # it is up.
                log.warning(
                    "history of '%s' not read (%s): using what the models know", user_id, exc
                )
                recent = []
        model, index = snap.model, snap.index
        known = sorted(model.known_items(user_id)) if model and model.has_user(user_id) else []
        held = sorted(index.user_tracks(user_id)) if index is not None else []
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
            snap,
        )

    def _answer(
        self,
        q: SeedQuery,
        limit: int,
        offset: int,
        collab_weight: float | None,
        explain: int | None = None,
    ) -> Recommendation:
        used = {k: q.weights[k] for k in q.queries}
        if q.user_id is None:
            hits = self.content.search(q, limit, offset)
            sims = Similarity(self.store, q.queries).many(hits)
            items = [
                RankedTrack.from_payload(
                    h.payload, score=h.score, similarities=s, sources=[self.content.name]
                )
                for h, s in zip(hits, sims, strict=True)
            ]
            return Recommendation(items, self.content.fusion, list(q.queries), used)
        explained = offset + limit if explain is None else explain
        ranker, personalization = self._choose(q.snapshot, q.user_id, collab_weight, explained)
        if personalization.status != "applied":  # the model takes no part in this request
            q = replace(q, snapshot=replace(q.snapshot, model=None))
        # Ranking needs a pool wider than the page; the page is cut after ranking.
        learned = isinstance(ranker, LearnedRanker)
        scored = self.scored_pool(q, offset + limit, features=learned)
        ranked = ranker.rank(scored, q.weights, offset + limit)
        return Recommendation(
            ranked[offset:], self.content.fusion, list(q.queries), used, personalization
        )

    def _choose(
        self, snap: Snapshot, user_id: str, collab_weight: float | None, explain: int
    ) -> tuple[Ranker, Personalization]:
        """The ranker of this request, decided here only: the learned one when the snapshot
        has a booster and the request asks for no `collab_weight`, else the linear blend."""
        booster = snap.booster
        if collab_weight is None and booster is not None:
            ranker: Ranker = LearnedRanker(booster, self.layout, explain_top=explain)
            status = self._status(snap, user_id, None)
            return ranker, Personalization(
                user_id,
                status,
                None,
                snap.model_version,
                ranker="learned",
                ranker_version=snap.ranker_version,
            )
        w = self.collab_weight if collab_weight is None else collab_weight
        status = self._status(snap, user_id, w)
        share = w if status == "applied" else 0.0
        return LinearBlend(share), Personalization(user_id, status, share, snap.model_version)

    @staticmethod
    def _status(snap: Snapshot, user_id: str, collab_weight: float | None) -> PersonalizationStatus:
        if snap.model is None:
            return "no-model"
        if collab_weight == 0:
            return "off"  # the model is not consulted at all
        return "applied" if snap.model.has_user(user_id) else "unknown-user"

    def scored_pool(
        self,
        q: SeedQuery,
        page: int,
        *,
        features: bool,
        keep: Callable[[list[str]], Collection[str]] | None = None,
    ) -> list[ScoredCandidate]:
        """The hydrated pool of `q` (its snapshot's model and matrix) with every candidate's
        signals. With `features` (the learned ranker, and training), every switched-on source
        takes part and each candidate gets its feature row; without, the blend's sources.
        `keep` (training) picks, from the gathered track ids in pool order, the candidates
        that are fetched and scored at all: a candidate's signals and features depend on it
        and the query only, so the kept rows are those of the whole pool."""
        model = q.snapshot.model
        if model is not None and not model.has_user(q.user_id or ""):
            model = None
        asked = [
            (a.source, max(a.pool, page) if a.spec.page else a.pool)
            for a in self.sources
            if features or a.spec.blend
        ]
        gathered = gather(asked, q)
        if keep is not None:
            chosen = set(keep(list(gathered)))
            gathered = {t: c for t, c in gathered.items() if t in chosen}
        pool = hydrate(self.store, gathered, q)
        cosines = Similarity(self.store, q.queries).many([c.record for c in pool])  # type: ignore[misc]
        scored = [ScoredCandidate(c, s) for c, s in zip(pool, cosines, strict=True)]
        if model is not None and scored and q.user_id is not None:
            raw = collaborative_scores(
                model,
                q.user_id,
                [s.candidate.record.payload for s in scored],  # type: ignore[union-attr]
            )
            for s, value in zip(scored, raw.tolist(), strict=True):
                s.collaborative = value
        if features:
            ctx = QueryContext(
                q.history(),
                [q.seeds[t].payload for t in q.positive if t in q.seeds],
                q.snapshot.index,
                q.cooccurrence,
                q.colistened,
                {name: q.cf_scores(name) for name in self.layout.sources if name in CF_NAMES},
            )
            rows = self.layout.rows(
                [s.candidate for s in scored],
                [s.similarities for s in scored],
                [s.collaborative for s in scored],
                ctx,
            )
            for s, row in zip(scored, rows, strict=True):
                s.features = row
        return scored
