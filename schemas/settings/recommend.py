"""How recommendations are made: the fused content query and the candidate pool's ranking."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.layout import MODALITIES, Modality
from schemas.settings.section import Section


class RecommendSettings(Section):
    fusion: Literal["rrf", "dbsf"] = "rrf"
    default_weights: dict[Modality, float] = Field(
        default_factory=lambda: dict.fromkeys(MODALITIES, 1.0),
        description="Per-modality fusion weights when a request names none (JSON).",
    )
    rrf_k: int = Field(60, ge=1, le=1000)
    prefetch_limit: int = Field(200, ge=1, le=10_000, description="Candidates per modality.")
    collab_weight: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Default share of the LightFM score in the linear blend (the ranking used "
        "when no learned ranker is loaded, or when a request sets collab_weight); how the "
        "default was chosen is in docs/evaluation.md.",
    )
    sources: list[str] | None = Field(
        None,
        description="The candidate sources of a personalised pool, by name, as a JSON list "
        '(e.g. \'["content", "collaborative", "cooccurrence"]\'); unset: every registered source '
        "(core/recommend/sources/registry.py). Changing it changes the ranker's features: "
        "retrain with `musicrec train`.",
    )
    candidate_pool: int = Field(
        200, ge=10, le=5000, description="Fused content candidates in a personalised pool."
    )
    pool_collaborative: int = Field(
        200, ge=0, le=5000, description="Candidates from LightFM's own top tracks for the user."
    )
    pool_cooccurrence: int = Field(
        200, ge=0, le=5000, description="Candidates from item co-occurrence with the history."
    )
    pool_artist: int = Field(
        50, ge=0, le=5000, description="Candidates by the artists of the user's seed tracks."
    )
    pool_colistened: int = Field(
        50,
        ge=0,
        le=5000,
        description="Candidates by the artists co-listened with the history's (3 per artist).",
    )
    pool_popularity: int = Field(
        50, ge=0, le=5000, description="The most-held tracks (fallback for short histories)."
    )
    pool_ease: int = Field(100, ge=0, le=5000, description="Candidates from EASE.")
    pool_ials: int = Field(100, ge=0, le=5000, description="Candidates from iALS.")
    pool_rp3beta: int = Field(100, ge=0, le=5000, description="Candidates from RP3β.")
    pool_userknn: int = Field(
        100, ge=0, le=5000, description="Candidates from similar listeners (UserKNN)."
    )
    list_cache_size: int = Field(
        10_000,
        ge=0,
        le=1_000_000,
        description="Personal lists kept in memory per API process, served again while the "
        "user's events, the model and the ranker are those they were computed from "
        "(core/recommend/lists.py); 0: every personalised request runs the pipeline.",
    )
    list_cache_seconds: float = Field(
        3600.0,
        gt=0,
        le=7 * 86400,
        description="Age at which a kept list is recomputed anyway (a catalog re-indexed by "
        "another process shows within this time).",
    )
    list_depth: int = Field(
        20,
        ge=1,
        le=1100,
        description="Tracks per kept list: pages beyond it (offset + limit) run the pipeline. "
        "Every kept track is explained, so a deeper list makes each computation slower "
        '(docs/performance.md, "Kept personal lists").',
    )
    precompute_users: int = Field(
        1000,
        ge=0,
        le=1_000_000,
        description="After start-up, each model or ranker change and as their lists expire, "
        "the lists of this many users (most interactions first) are computed in the "
        "background, so their next request is a read; 0: lists are only kept from requests.",
    )
    recompute_after_events: bool = Field(
        True,
        description="After POST /interactions records events of users who have a kept list, "
        "those lists are recomputed in the background, so their next request is a read; a "
        "request arriving during that computation waits for it.",
    )
    background_query_wait_ms: float = Field(
        50.0,
        ge=0,
        le=1000,
        description="On the embedded engine, each query of the background's list computations "
        "first waits, at most this long, while the API serves a request (the engine holds "
        "Python's GIL during a query: core/store/priority.py); 0: never waits.",
    )
    ranker_label_share: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Share of each user's interactions held out as labels when `musicrec "
        "train` fits the learned ranker (features come from the rest only).",
    )
    ranker_max_users: int = Field(
        4000,
        ge=10,
        description="Training queries for the ranker (a seeded sample above it). Pooling "
        "them is most of `musicrec train`'s time at scale; more of them rank better "
        "(docs/ranker-training.md).",
    )
    ranker_threads: int = Field(
        1,
        ge=1,
        le=64,
        description="LightGBM threads when training. 1 by default: on 2 cores shared with "
        "other work, OpenMP's spinning threads made LambdaRank slower with 2 threads than "
        'with 1 (docs/performance.md, "Numbers behind the recommender\'s defaults").',
    )
