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
from dataclasses import dataclass
from typing import get_args

import numpy as np

from core.recommend.candidates import Candidate
from core.recommend.cf_models import CFScores
from core.recommend.user_tracks import UserTrackMatrix
from schemas.layout import AUDIO, COVER, LYRICS, LYRICS_TERMS
from schemas.settings.cf import CFName

# The strong collaborative models (`cf_models`): each a source and a group of its own.
CF_SOURCES: tuple[str, ...] = get_args(CFName)
SOURCES: tuple[str, ...] = (
    "content",
    "collaborative",
    "cooccurrence",
    "artist",
    "colistened",
    "popularity",
    *CF_SOURCES,
)
# Explanation groups, in display order ("context" holds what describes the query, not a signal).
GROUP_ORDER: tuple[str, ...] = (
    LYRICS,
    LYRICS_TERMS,
    COVER,
    AUDIO,
    "content",
    "collaborative",
    "cooccurrence",
    "artist",
    *CF_SOURCES,
    "popularity",
    "context",
)
_SOURCE_GROUP = {s: s for s in SOURCES} | {"colistened": "artist"}
FEATURES: tuple[tuple[str, str], ...] = (
    *((f"{s}_score", _SOURCE_GROUP[s]) for s in SOURCES),
    *((f"{s}_rank", _SOURCE_GROUP[s]) for s in SOURCES),
    (f"cos_{LYRICS}", LYRICS),
    ("has_lyrics", LYRICS),
    (f"cos_{LYRICS_TERMS}", LYRICS_TERMS),
    (f"cos_{COVER}", COVER),
    ("has_cover", COVER),
    (f"cos_{AUDIO}", AUDIO),
    ("has_audio", AUDIO),
    ("lightfm", "collaborative"),
    ("cooc_raw", "cooccurrence"),
    ("cooc_norm", "cooccurrence"),
    # Each model's score of EVERY candidate (its _score/_rank: of the ones it proposed).
    *((f"cf_{s}", s) for s in CF_SOURCES),
    ("artist_overlap", "artist"),
    ("artist_share", "artist"),
    ("artist_colisten", "artist"),
    ("interaction_count", "popularity"),
    ("spotify_popularity", "popularity"),
    ("year_distance", "context"),
    ("history_length", "context"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(name for name, _ in FEATURES)
GROUPS: dict[str, str] = dict(FEATURES)
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class QueryContext:
    """What the features need to know about the query, computed once per request."""

    history: Sequence[str]  # the user's tracks (or the seeds)
    seed_payloads: Sequence[Mapping]  # stored payloads of the seeds (artists, years)
    index: UserTrackMatrix | None  # interactions the features may use (None: none)
    cf: CFScores | None = None  # the collaborative models fitted on that same index

    @property
    def artist_counts(self) -> Counter[str]:
        return Counter(a for p in self.seed_payloads for a in set(p.get("artists") or ()))

    @property
    def median_year(self) -> float:
        years = [p["year"] for p in self.seed_payloads if p.get("year")]
        return float(np.median(years)) if years else math.nan


def feature_rows(
    candidates: Sequence[Candidate],
    similarities: Sequence[Mapping[str, float | None]],
    lightfm: Sequence[float | None],
    ctx: QueryContext,
) -> np.ndarray:
    """(len(candidates), len(FEATURE_NAMES)) float32, NaN where a value is missing."""
    x = np.full((len(candidates), len(FEATURE_NAMES)), np.nan, dtype=np.float32)
    if not candidates:
        return x
    ids = [c.track_id for c in candidates]
    for i, c in enumerate(candidates):
        for source, hit in c.sources.items():
            if f"{source}_score" in _COL:
                x[i, _COL[f"{source}_score"]] = hit.score
                x[i, _COL[f"{source}_rank"]] = hit.rank
        vectors = c.record.vectors if c.record else {}
        for name, value in similarities[i].items():
            if value is not None:
                x[i, _COL[f"cos_{name}"]] = value
        x[i, _COL["has_lyrics"]] = LYRICS in vectors
        x[i, _COL["has_cover"]] = COVER in vectors
        x[i, _COL["has_audio"]] = AUDIO in vectors
    x[:, _COL["lightfm"]] = [np.nan if v is None else v for v in lightfm]
    payloads = [c.record.payload if c.record else {} for c in candidates]
    artists = ctx.artist_counts
    overlap = np.array(
        [sum(artists[a] for a in set(p.get("artists") or ())) for p in payloads], np.float32
    )
    x[:, _COL["artist_overlap"]] = overlap
    x[:, _COL["artist_share"]] = overlap / max(len(ctx.seed_payloads), 1)
    x[:, _COL["spotify_popularity"]] = [
        np.nan if p.get("popularity") is None else p["popularity"] for p in payloads
    ]
    year = ctx.median_year
    x[:, _COL["year_distance"]] = [
        abs(p["year"] - year) if p.get("year") and not math.isnan(year) else np.nan
        for p in payloads
    ]
    x[:, _COL["history_length"]] = len(ctx.history)
    if ctx.index is not None:
        counts = ctx.index.count(ids)
        raw = np.nan_to_num(ctx.index.lookup(ctx.index.history_cooccurrence(ctx.history), ids))
        held = ctx.index.count(list(ctx.history)).sum()
        x[:, _COL["interaction_count"]] = counts
        x[:, _COL["cooc_raw"]] = raw
        # Cosine-like: a track held by everyone co-occurs with everything.
        x[:, _COL["cooc_norm"]] = raw / np.sqrt(np.maximum(counts, 1.0) * max(held, 1.0))
        colisten = ctx.index.colistened(ctx.history, list(artists))
        if colisten is not None:
            assert ctx.index.artists is not None
            x[:, _COL["artist_colisten"]] = [
                ctx.index.artists.best(colisten, p.get("artists") or ()) for p in payloads
            ]
    if ctx.cf is not None:
        for name in ctx.cf.names:
            scores = ctx.cf.scores(name, ctx.history)
            if scores is not None:
                x[:, _COL[f"cf_{name}"]] = ctx.cf.index.lookup(scores, ids)
    return x
