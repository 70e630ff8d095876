"""Hyper-parameters chosen on the training side only, so the hidden tracks are scored once.

The validation split is carved from the training rows by the same rule as the test split
(`continuation_split`, seeded): HIDE of each training playlist long enough is held out, the
rest is what a candidate point is fitted on. Every point of the grid is fitted and ranked for
the validation playlists; the best mean NDCG@10 wins (ties: the earlier point of the grid).
The chosen point is then refitted on the whole training side by the caller.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from evaluation.methods.base import Query, TrainData
from evaluation.methods.cf import Baseline, CFMethod
from evaluation.metrics import ndcg_at_k
from evaluation.splits import continuation_split
from schemas.tracks import Track

K = 10


class ProtocolLike(Protocol):
    """What a baseline run reads of an evaluation protocol (evaluation.ranker_protocol)."""

    train_rows: pd.DataFrame
    hidden: dict[str, set[str]]
    catalog: list[Track]


@dataclass(frozen=True)
class Tuned:
    """The chosen point and the validation NDCG@10 of every point tried (grid order)."""

    params: dict[str, Any]
    tried: list[tuple[dict[str, Any], float]]


def grid_points(grid: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = sorted(grid)
    return [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(grid[n] for n in names))
    ]


def queries_for(train_rows: pd.DataFrame, users: Sequence[str]) -> list[Query]:
    """One query per playlist: its training tracks are the seeds and excluded."""
    # pandas-stubs type agg's callable as returning a scalar; a frozenset per group is valid.
    known = train_rows.groupby("user_id")["track_id"].agg(lambda s: frozenset(map(str, s)))  # type: ignore[type-var]
    return [
        Query(u, tuple(sorted(known.get(u, frozenset()))), known.get(u, frozenset()), u)
        for u in users
    ]


def validation_ndcg(
    method: CFMethod, catalog: Sequence[Track], train: pd.DataFrame, hidden: dict[str, set[str]]
) -> float:
    method.fit(TrainData(catalog, train))
    queries = queries_for(train, sorted(hidden))
    ranked = method.rank_many(queries, K)
    pairs = zip(ranked, queries, strict=True)
    return float(np.mean([ndcg_at_k(r, hidden[q.id], K) for r, q in pairs]))


def tune(
    baseline: Baseline,
    catalog: Sequence[Track],
    train_rows: pd.DataFrame,
    seed: int,
    max_users: int | None = None,
) -> Tuned:
    """The best grid point on a validation split of `train_rows` (never the test hidden);
    `max_users` validates on a seeded draw of that many playlists (large data sets)."""
    inner, held = continuation_split(train_rows, seed)
    catalog_ids = {t.id for t in catalog}
    hidden = {u: set(map(str, v)) & catalog_ids for u, v in held.items()}
    hidden = {u: h for u, h in hidden.items() if h}
    if max_users is not None and len(hidden) > max_users:
        drawn = np.random.default_rng(seed).permutation(sorted(hidden))[:max_users]
        hidden = {str(u): hidden[str(u)] for u in drawn}
    tried = [
        (point, validation_ndcg(baseline.method(point), catalog, inner, hidden))
        for point in grid_points(baseline.grid)
    ]
    best = max(range(len(tried)), key=lambda i: (tried[i][1], -i))
    return Tuned(tried[best][0], tried)


@dataclass
class BaselineRun:
    """One baseline on one protocol: its answers (max(K, |hidden|) deep), the tuning record,
    the fitted method, and its cost."""

    answers: dict[str, list[str]]
    tuning: dict[str, Any]
    method: CFMethod
    ms_per_query: float


def run_baseline(
    baseline: Baseline,
    protocol: ProtocolLike,
    seed: int,
    max_validation_users: int | None = None,
) -> BaselineRun:
    """Tune on the training side, refit on all of it, answer every evaluated playlist once."""
    users = sorted(protocol.hidden)
    queries = queries_for(protocol.train_rows, users)
    depth = max([K, *(len(h) for h in protocol.hidden.values())])
    started = time.perf_counter()
    tuned = tune(baseline, protocol.catalog, protocol.train_rows, seed, max_validation_users)
    tuning_seconds = time.perf_counter() - started
    started = time.perf_counter()
    method = baseline.method(tuned.params)
    method.fit(TrainData(protocol.catalog, protocol.train_rows))
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    answers = dict(zip(users, method.rank_many(queries, depth), strict=True))
    ms = round(1000 * (time.perf_counter() - started) / max(len(users), 1), 2)
    tuning = {
        "grid": {k: list(v) for k, v in baseline.grid.items()},
        "fixed": {k: v for k, v in baseline.fixed.items() if k != "threads"},
        "chosen": tuned.params,
        "validation NDCG@10": round(max(v for _, v in tuned.tried), 4),
        "tuning seconds": round(tuning_seconds, 1),
        "fit seconds": round(fit_seconds, 1),
    }
    return BaselineRun(answers, tuning, method, ms)
