"""What a protocol returns: per-query metric arrays per method, and the facts a report needs.

Kept per query (not as means) because every interval is a bootstrap over queries and every
comparison a paired one; the report (evaluation.report) turns these into numbers and prose.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from evaluation.methods.base import Method, Query
from evaluation.metrics import ranking_metrics


@dataclass
class Row:
    """One method's per-query metric values (plus what the table should say about it)."""

    name: str
    values: dict[str, np.ndarray]
    note: str = ""

    @property
    def n(self) -> int:
        return len(next(iter(self.values.values())))


@dataclass
class Section:
    """One protocol's rows (methods) and facts (sizes, timings) on one data set."""

    rows: list[Row] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)


def progress(message: str) -> None:
    print(f"[evaluate {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(
    ranker: Method,
    queries: Sequence[Query],
    relevant: Mapping[str, Iterable[str]],
    ks: Sequence[int],
    note: str = "",
) -> Row:
    """Rank every query (in order) at the largest k and score it against its relevant set:
    the one loop every method of every ranking protocol goes through."""
    k = max(ks)
    pairs = ((ranker.rank(q, k), set(relevant[q.id])) for q in queries)
    return Row(ranker.name, ranking_metrics(pairs, ks), note)


@dataclass
class Results:
    """Everything one evaluation run measured, handed from the protocols to the report."""

    lyrics: Section
    playlists: Section
    warm: Section
    subset: Section
    calib: Section
    cover: Section | None
    seconds: float

    def sections(self) -> dict[str, Section]:
        """Protocol name → section, as docs/evaluation.json keys them."""
        named = {
            "playlist_continuation": self.playlists,
            "playlist_continuation_warm_only": self.warm,
            "lyrics_same_artist": self.lyrics,
            "lyrics_playlist_subset": self.subset,
            "rmse_calibrated_membership": self.calib,
        }
        if self.cover is not None:
            named["cover_genre_retrieval"] = self.cover
        return named
