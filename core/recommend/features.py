"""The learned ranker's view of a candidate: one row of numbers per (query, track).

Missing stays missing (NaN): a track without lyrics has no lyrics cosine, a track a source did
not propose has no rank in it. LightGBM learns where NaN should go at each split, so a lyrics
track is no longer pulled below an audio-only one by averaging cosines of different scales
(issue 15). Every feature belongs to one explanation group (`GROUPS`); a TreeSHAP contribution
is reported per group.

The same function builds the rows at training time (from the feature part of the
interactions) and at serving time, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from core.recommend.candidates import Candidate
from core.recommend.cf_models import CF_NAMES
from core.recommend.sources.registry import REGISTRY, SourceSpec
from core.recommend.user_tracks import UserTrackMatrix
from schemas.layout import AUDIO, COVER, LYRICS, LYRICS_TERMS, MODALITIES

# The features every layout has, after the sources' score and rank columns; the groups of the
# sources come from the registry (`sources.registry.SourceSpec.group`).
COMMON: tuple[tuple[str, str], ...] = (
    (f"cos_{LYRICS}", LYRICS),
    ("has_lyrics", LYRICS),
    (f"cos_{LYRICS_TERMS}", LYRICS_TERMS),
    (f"cos_{COVER}", COVER),
    ("has_cover", COVER),
    (f"cos_{AUDIO}", AUDIO),
    ("has_audio", AUDIO),
    ("lightfm", "collaborative"),
    ("cooc_norm", "cooccurrence"),
    ("artist_overlap", "artist"),
    ("artist_share", "artist"),
    ("artist_colisten", "artist"),
    ("interaction_count", "popularity"),
    ("spotify_popularity", "popularity"),
    ("year_distance", "context"),
    ("history_length", "context"),
)
CONTEXT = "context"  # the group of what describes the query, not a signal: shown last


@dataclass(frozen=True)
class FeatureLayout:
    """The columns of a feature row and the explanation group of each, for one set of
    sources: `<source>_score` and `<source>_rank` per source (in the registry's order),
    `cf_<source>` per collaborative model, then `COMMON`. `group_order` is the display order:
    the modalities, the sources' groups, the other signals, context."""

    sources: tuple[str, ...]
    groups_of_sources: tuple[str, ...]

    @classmethod
    def of(cls, specs: Sequence[SourceSpec]) -> FeatureLayout:
        return cls(tuple(s.name for s in specs), tuple(s.explanation_group for s in specs))

    @cached_property
    def features(self) -> tuple[tuple[str, str], ...]:
        pairs = tuple(zip(self.sources, self.groups_of_sources, strict=True))
        return (
            *((f"{s}_score", g) for s, g in pairs),
            *((f"{s}_rank", g) for s, g in pairs),
            # A collaborative model's score of EVERY candidate (its _score/_rank: of the
            # ones it proposed itself).
            *((f"cf_{s}", g) for s, g in pairs if s in CF_NAMES),
            *COMMON,
        )

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.features)

    @cached_property
    def groups(self) -> dict[str, str]:
        return dict(self.features)

    @cached_property
    def group_order(self) -> tuple[str, ...]:
        signals = [g for _, g in COMMON if g not in MODALITIES and g != CONTEXT]
        return tuple(dict.fromkeys([*MODALITIES, *self.groups_of_sources, *signals, CONTEXT]))

    @cached_property
    def group_of_column(self) -> np.ndarray:
        """Per column, the index of its group in `group_order`."""
        return np.array([self.group_order.index(self.groups[f]) for f in self.names])

    @cached_property
    def col(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def rows(
        self,
        candidates: Sequence[Candidate],
        similarities: Sequence[Mapping[str, float | None]],
        lightfm: Sequence[float | None],
        ctx: QueryContext,
    ) -> np.ndarray:
        return feature_rows(self, candidates, similarities, lightfm, ctx)


#: The layout of every registered source, in the registry's order (the default settings).
DEFAULT_LAYOUT = FeatureLayout.of(REGISTRY)
FEATURE_NAMES: tuple[str, ...] = DEFAULT_LAYOUT.names
GROUPS: dict[str, str] = DEFAULT_LAYOUT.groups
GROUP_ORDER: tuple[str, ...] = DEFAULT_LAYOUT.group_order


@dataclass(frozen=True)
class QueryContext:
    """What the features need to know about the query, computed once per request."""

    history: Sequence[str]  # the user's tracks (or the seeds)
    seed_payloads: Sequence[Mapping[str, Any]]  # stored payloads of the seeds (artists, years)
    index: UserTrackMatrix | None  # interactions the features may use (None: none)
    # The query's scores its sources used too (`SeedQuery.cooccurrence` / `.colistened`).
    cooccurrence: np.ndarray | None = None
    colistened: np.ndarray | None = None
    # Each collaborative model's scores of the history (`SeedQuery.cf_scores`), per index track.
    cf: Mapping[str, np.ndarray | None] = field(default_factory=dict)

    @property
    def artist_counts(self) -> Counter[str]:
        return Counter(a for p in self.seed_payloads for a in set(p.get("artists") or ()))

    @property
    def median_year(self) -> float:
        years = [p["year"] for p in self.seed_payloads if p.get("year")]
        return float(np.median(years)) if years else math.nan


def feature_rows(
    layout: FeatureLayout,
    candidates: Sequence[Candidate],
    similarities: Sequence[Mapping[str, float | None]],
    lightfm: Sequence[float | None],
    ctx: QueryContext,
) -> np.ndarray:
    """(len(candidates), len(layout.names)) float32, NaN where a value is missing."""
    col = layout.col
    x = np.full((len(candidates), len(col)), np.nan, dtype=np.float32)
    if not candidates:
        return x
    ids = [c.track_id for c in candidates]
    for i, c in enumerate(candidates):
        for source, hit in c.sources.items():
            if f"{source}_score" in col:
                x[i, col[f"{source}_score"]] = hit.score
                x[i, col[f"{source}_rank"]] = hit.rank
        for name, value in similarities[i].items():
            if value is not None:
                x[i, col[f"cos_{name}"]] = value
        # Known only for the modalities the query has (a cosine, or None: no such vector).
        for name in (LYRICS, COVER, AUDIO):
            if name in similarities[i]:
                x[i, col[f"has_{name}"]] = similarities[i][name] is not None
    x[:, col["lightfm"]] = [np.nan if v is None else v for v in lightfm]
    payloads = [c.record.payload if c.record else {} for c in candidates]
    artists = ctx.artist_counts
    overlap = np.array(
        [sum(artists[a] for a in set(p.get("artists") or ())) for p in payloads], np.float32
    )
    x[:, col["artist_overlap"]] = overlap
    x[:, col["artist_share"]] = overlap / max(len(ctx.seed_payloads), 1)
    x[:, col["spotify_popularity"]] = [
        np.nan if p.get("popularity") is None else p["popularity"] for p in payloads
    ]
    year = ctx.median_year
    x[:, col["year_distance"]] = [
        abs(p["year"] - year) if p.get("year") and not math.isnan(year) else np.nan
        for p in payloads
    ]
    x[:, col["history_length"]] = len(ctx.history)
    if ctx.index is not None and ctx.cooccurrence is not None:
        counts = ctx.index.count(ids)
        raw = np.nan_to_num(ctx.index.lookup(ctx.cooccurrence, ids))
        held = ctx.index.count(list(ctx.history)).sum()
        x[:, col["interaction_count"]] = counts
        # Cosine-like, never raw: a track held by everyone co-occurs with everything, and the
        # raw count was popularity in disguise (issue 27; interaction_count says that apart).
        x[:, col["cooc_norm"]] = raw / np.sqrt(np.maximum(counts, 1.0) * max(held, 1.0))
        colisten = ctx.colistened
        if colisten is not None:
            assert ctx.index.artists is not None
            x[:, col["artist_colisten"]] = [
                ctx.index.artists.best(colisten, p.get("artists") or ()) for p in payloads
            ]
    if ctx.index is not None:
        for name, scores in ctx.cf.items():
            if scores is not None and f"cf_{name}" in col:
                x[:, col[f"cf_{name}"]] = ctx.index.lookup(scores, ids)
    return x
