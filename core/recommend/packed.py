"""A recommendation packed for keeping: what explains each track, in arrays, without the tracks.

A kept list (`core.recommend.lists`) re-reads its page's tracks from the store on every read,
so it need not hold them; and the rest of a `RankedTrack` as Python objects (a dict of
similarities, a dict of explanation terms, a boxed float per score) takes several times the
memory of the same numbers in an array. Packed, the numbers go into one float64 matrix (NaN
for None, so every value comes back exactly) and the signal names are held once per list
(the measured size per list: `scripts/bench_api.py`, docs/performance.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.recommend.results import RankedTrack, Recommendation

_SCORES = ("score", "content_score", "collaborative_score", "blended_score")


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class PackedList:
    head: Recommendation  # everything but the items
    ids: tuple[str, ...]
    sources: tuple[tuple[str, ...], ...]
    similarity_names: tuple[str, ...]
    explanation_names: tuple[str, ...]
    explained: np.ndarray  # bool: the track has an explanation (the learned ranker's)
    #: Per track: the four scores, then the similarities, then the explanation terms.
    values: np.ndarray

    @classmethod
    def pack(cls, result: Recommendation) -> PackedList:
        items = result.items
        sims = tuple(dict.fromkeys(k for i in items for k in i.similarities))
        terms = tuple(dict.fromkeys(k for i in items for k in i.explanation or {}))
        values = np.full((len(items), len(_SCORES) + len(sims) + len(terms)), np.nan)
        for row, item in enumerate(items):
            for col, name in enumerate(_SCORES):
                value = getattr(item, name)
                if value is not None:
                    values[row, col] = value
            for col, name in enumerate(sims, start=len(_SCORES)):
                value = item.similarities.get(name)
                if value is not None:
                    values[row, col] = value
            for col, name in enumerate(terms, start=len(_SCORES) + len(sims)):
                if item.explanation is not None and name in item.explanation:
                    values[row, col] = item.explanation[name]
        return cls(
            head=replace(result, items=[]),
            ids=tuple(i.track.id for i in items),
            sources=tuple(tuple(i.sources) for i in items),
            similarity_names=sims,
            explanation_names=terms,
            explained=np.array([i.explanation is not None for i in items], dtype=bool),
            values=values,
        )

    def page(
        self, offset: int, limit: int, payloads: Mapping[str, Mapping[str, Any]]
    ) -> Recommendation:
        """The page's results with each track built from `payloads` (track id → payload,
        read now); every page id must be in it."""
        sims_at = len(_SCORES)
        terms_at = sims_at + len(self.similarity_names)
        items = []
        for row in range(offset, min(offset + limit, len(self.ids))):
            values = self.values[row]
            scores = [_number(v) for v in values[:sims_at]]  # score itself is never NaN
            explanation = (
                {
                    name: float(v)
                    for name, v in zip(self.explanation_names, values[terms_at:], strict=True)
                    if not np.isnan(v)
                }
                if self.explained[row]
                else None
            )
            item = RankedTrack.from_payload(
                payloads[self.ids[row]],
                score=float(values[0]),
                similarities={
                    name: _number(v)
                    for name, v in zip(self.similarity_names, values[sims_at:terms_at], strict=True)
                },
                sources=list(self.sources[row]),
                content_score=scores[1],
                collaborative_score=scores[2],
                blended_score=scores[3],
                explanation=explanation,
            )
            items.append(item)
        return replace(self.head, items=items)
