"""Everything the API holds for its lifetime, built once in the lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from api.ratelimit import RateLimits
from api.served_log import SERVED_LOG
from core.artefacts import ArtefactHolder
from core.collab.holder import ModelHolder
from core.encoders.base import Encoder
from core.encoders.cover import build_cover_encoder
from core.encoders.factory import build_lyrics_encoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.interactions.availability import Database
from core.interactions.store import SqlInteractionStore
from core.recommend.factory import build_recommender, feature_layout
from core.recommend.lists import PersonalLists
from core.recommend.rankers.artefact import RankerArtefact, ranker_holder
from core.recommend.recommender import Recommender
from core.recommend.search import Searcher
from core.spotify import build_spotify_client
from core.store import StoreError, VectorStore, open_store
from core.store.preload import Preload
from core.store.priority import QueryPriority
from schemas.settings import Settings

if TYPE_CHECKING:  # the `spotify` extra: imported only where credentials are configured
    from core.spotify.client import SpotifyClient
    from jobs.runner import JobRunner

log = logging.getLogger(__name__)


@dataclass
class Resources:
    settings: Settings
    store: VectorStore
    lyrics_encoder: Encoder | None
    cover_encoder: Encoder | None
    recommender: Recommender
    searcher: Searcher
    collab: ModelHolder
    interactions: SqlInteractionStore
    database: Database  # the interactions' database: ready, or degraded with a reason
    lists: PersonalLists  # the personal lists kept between requests and computed ahead
    spotify: SpotifyClient | None = None  # None: no credentials
    rate_limits: RateLimits = field(default_factory=lambda: RateLimits({}))
    ranker: ArtefactHolder[RankerArtefact] | None = None  # the learned ranker's artefact
    #: Uploads decoded at once (MUSICREC_MAX_CONCURRENT_UPLOADS).
    upload_slots: threading.BoundedSemaphore = field(default_factory=threading.BoundedSemaphore)
    jobs: JobRunner | None = None  # set by api.jobs_runner in the lifespan
    preloaded: Preload | None = None  # what the start-up preload did, once it is over
    #: Requests before the background's engine queries (core/store/priority.py).
    priority: QueryPriority = field(default_factory=lambda: QueryPriority(0.0))

    def holders(self) -> list[ArtefactHolder[Any]]:
        """The hot-reloaded artefacts: the LightFM model, then the learned ranker."""
        return [self.collab] if self.ranker is None else [self.collab, self.ranker]

    def close(self) -> None:
        self.store.close()
        self.database.close()


def build_resources(settings: Settings) -> Resources:
    store = open_store(settings)
    try:
        # Touch the store now: the embedded shard's lock is taken at start-up, and a
        # collection that is missing is reported in the log instead of on the first request.
        if store.exists():
            log.info(
                "collection '%s' on %s: %d points", store.collection, store.engine, store.count()
            )
        else:
            log.warning(
                "collection '%s' does not exist yet: run `musicrec index`", store.collection
            )
    except StoreError as exc:
        if settings.engine == "edge":
            raise  # a locked or broken embedded shard will not heal by itself
        log.warning("Qdrant is not reachable at start-up (%s); requests get 503 until it is", exc)
    priority = QueryPriority(settings.background_query_wait_ms / 1000)
    store.yield_to_requests(priority)
    lyrics = build_lyrics_encoder(settings)
    cover = build_cover_encoder(settings)
    assert settings.model_dir is not None
    collab = ModelHolder(settings.model_dir, settings.model_reload_seconds)
    if collab.model is None:
        log.warning("no collaborative model in %s: results are content-only", settings.model_dir)
    # Upgrades an older schema (refuses a newer one) and imports a pre-database CSV once;
    # start-up reads no events, however many are stored. Unreachable: a degraded start.
    database = Database(settings)
    interactions = database.store
    ranker = ranker_holder(
        settings.model_dir, settings.model_reload_seconds, feature_layout(settings).names
    )
    recommender = build_recommender(
        settings, store, collab=collab, history=interactions, ranker=ranker
    )
    searcher = Searcher(
        recommender.content,
        lyrics,
        cover,
        LyricsTermsEncoder(),
        default_weights=cast("Mapping[str, float]", settings.default_weights),
    )
    spotify = build_spotify_client(settings)
    rate_limits = RateLimits(
        {
            "search": settings.rate_limit_search,
            "cover search": settings.rate_limit_cover_search,
            "refresh": settings.rate_limit_refresh,
            SERVED_LOG: settings.rate_limit_served_log,
        },
        settings.rate_limit_storage.get_secret_value(),
    )
    return Resources(
        settings,
        store,
        lyrics,
        cover,
        recommender,
        searcher,
        collab,
        interactions,
        database,
        PersonalLists(
            recommender,
            size=settings.list_cache_size,
            seconds=settings.list_cache_seconds,
            depth=settings.list_depth,
            after_events=settings.recompute_after_events,
            priority=priority,
        ),
        spotify,
        rate_limits,
        ranker,
        upload_slots=threading.BoundedSemaphore(settings.max_concurrent_uploads),
        priority=priority,
    )
