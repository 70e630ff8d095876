"""Offline ranking and rating metrics, and the bootstrap that puts a confidence interval on them.

Written once for every protocol of the evaluation package (and the scripts over it), so a
number in one report means the same as in another. Relevance is binary
(a hidden playlist track, a song by the same artist): graded relevance does not exist in the
data. Per-query values are returned, not means, because the confidence interval is a bootstrap
over queries: the spread between playlists, not within one, is what makes a small evaluation
set uncertain.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np
import scipy.stats

__all__ = [
    "RANKING_METRICS",
    "auc",
    "beyond_accuracy",
    "bootstrap_ci",
    "f1_at_k",
    "gini",
    "hit_rate_at_k",
    "mean_ci",
    "ndcg_at_k",
    "precision_at_k",
    "r_precision",
    "ranking_metrics",
    "recall_at_k",
    "rmse",
]

T = TypeVar("T")

RANKING_METRICS: tuple[str, ...] = ("P", "R", "F1", "NDCG", "HR")


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def _hits(ranked: Sequence[T], relevant: Collection[T], k: int) -> list[bool]:
    """Relevance of each of the first k results; a repeated item counts once (its first slot)."""
    _check_k(k)
    seen: set[T] = set()
    out = []
    for item in ranked[:k]:
        out.append(item in relevant and item not in seen)
        seen.add(item)
    return out


def precision_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Divided by k even when fewer than k results came back: an empty slot is a miss."""
    return sum(_hits(ranked, relevant, k)) / k


def recall_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """0 for a query with nothing relevant (such queries should not be evaluated at all)."""
    found = sum(_hits(ranked, relevant, k))
    return found / len(relevant) if relevant else 0.0


def f1_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    p, r = precision_at_k(ranked, relevant, k), recall_at_k(ranked, relevant, k)
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def ndcg_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Binary-gain NDCG: the ideal ranking puts min(|relevant|, k) hits first."""
    hits = _hits(ranked, relevant, k)
    dcg = sum(1.0 / math.log2(i + 2) for i, hit in enumerate(hits) if hit)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal > 0 else 0.0


def hit_rate_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    return float(any(_hits(ranked, relevant, k)))


def r_precision(ranked: Sequence[T], relevant: Collection[T]) -> float:
    """Precision at R = |relevant|: k adapts to the query, so a playlist with 40 hidden tracks
    and one with 2 weigh their misses alike (needs a ranking at least R deep)."""
    return precision_at_k(ranked, relevant, len(relevant)) if relevant else 0.0


def beyond_accuracy(
    rankings: Iterable[Sequence[T]], popularity: Mapping[T, float], k: int
) -> dict[str, float]:
    """What a top-k list costs the catalog, over all the queries' lists at once:

    - coverage: the share of the catalog (the keys of `popularity`) in some top k;
    - popularity percentile: the mean percentile (0-100, ties averaged) of the recommended
      items' training popularity in the catalog (high = a gain bought by popularity);
    - Gini of exposure: the Gini coefficient of how often each catalog item is recommended
      (0 = every item equally often, 1 = one item always).
    """
    _check_k(k)
    items = list(popularity)
    if not items:
        raise ValueError("beyond_accuracy needs a non-empty catalog")
    position = {item: i for i, item in enumerate(items)}
    counts = np.zeros(len(items))
    for ranked in rankings:
        for item in dict.fromkeys(ranked[:k]):
            counts[position[item]] += 1
    values = np.array([popularity[i] for i in items], dtype=np.float64)
    percentile = (
        100.0 * (scipy.stats.rankdata(values, method="average") - 1) / max(len(items) - 1, 1)
    )
    shown = counts.sum()
    return {
        "coverage": float((counts > 0).mean()),
        "popularity percentile": float((percentile * counts).sum() / shown) if shown else 0.0,
        "Gini of exposure": gini(counts),
    }


def gini(values: Sequence[float] | np.ndarray) -> float:
    """The Gini coefficient of non-negative values (0 equal, (n-1)/n all on one)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, x.size + 1)
    return float((2 * ranks - x.size - 1) @ x / (x.size * x.sum()))


_FUNCTIONS: dict[str, Callable[[Sequence, Collection, int], float]] = {
    "P": precision_at_k,
    "R": recall_at_k,
    "F1": f1_at_k,
    "NDCG": ndcg_at_k,
    "HR": hit_rate_at_k,
}


def ranking_metrics(
    rankings: Iterable[tuple[Sequence[T], Collection[T]]], ks: Sequence[int]
) -> dict[str, np.ndarray]:
    """Per-query values of every metric at every k, keyed like ``"P@10"``, in query order."""
    out: dict[str, list[float]] = {f"{m}@{k}": [] for k in ks for m in RANKING_METRICS}
    for ranked, relevant in rankings:
        for k in ks:
            for name, fn in _FUNCTIONS.items():
                out[f"{name}@{k}"].append(fn(ranked, relevant, k))
    return {key: np.asarray(values, dtype=np.float64) for key, values in out.items()}


def rmse(predicted: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray) -> float:
    p, a = np.asarray(predicted, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if p.shape != a.shape or p.size == 0:
        raise ValueError(f"rmse needs two non-empty arrays of one shape, got {p.shape}, {a.shape}")
    return float(np.sqrt(np.mean((p - a) ** 2)))


def auc(positive: Sequence[float] | np.ndarray, negative: Sequence[float] | np.ndarray) -> float:
    """Probability that a positive outscores a negative, ties counting half (the
    Mann-Whitney form, O(n log n) by sorting the negatives once)."""
    pos = np.asarray(positive, dtype=np.float64)
    neg = np.sort(np.asarray(negative, dtype=np.float64))
    if pos.size == 0 or neg.size == 0:
        raise ValueError("auc needs at least one positive and one negative score")
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float(((below + 0.5 * ties) / len(neg)).mean())


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    *,
    rounds: int = 2000,
    seed: int | np.random.Generator = 0,
    level: float = 0.95,
    statistic: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[float, float]:
    """Percentile interval of the mean (or of ``statistic``) over queries resampled with
    replacement, seeded so a report is reproducible to the last digit.

    ``statistic`` maps the (rounds, n) resample matrix to one value per round; it defaults to
    the row mean. Paired comparisons bootstrap the per-query differences. A Generator as
    ``seed`` is used as is, for scripts that draw several intervals from one stream.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("bootstrap_ci needs a non-empty 1-d array of per-query values")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, x.size, size=(rounds, x.size))]
    stats = samples.mean(axis=1) if statistic is None else statistic(samples)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def mean_ci(values: Sequence[float] | np.ndarray, **kwargs: object) -> tuple[float, float, float]:
    """(mean, low, high): the triple every report table prints."""
    x = np.asarray(values, dtype=np.float64)
    low, high = bootstrap_ci(x, **kwargs)  # type: ignore[arg-type]  # bootstrap_ci checks them
    return float(x.mean()), low, high
