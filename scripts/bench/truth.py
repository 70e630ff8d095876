"""Ground truth and scoring: the exact fused query in numpy, exact RRF, recall (tie-aware),
and timing."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bench import DEFAULTS
from bench.collection import Query
from bench.corpus import Corpus
from core.recommend.query import to_filter
from core.store.edge import EdgeStore
from schemas.api import Filters
from schemas.tracks import point_id
from schemas.vectors import SparseVector, Vector


class BruteForce:
    """The exact fused query in numpy: the floor any engine has to beat."""

    def __init__(self, corpus: Corpus) -> None:
        self.dense = {n: np.ascontiguousarray(m) for n, m in corpus.dense.items()}
        self.terms, self.vocab = corpus.terms, corpus.vocab
        df = np.bincount(self.terms.indices, minlength=len(self.vocab))
        n = self.terms.shape[0]
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))  # Qdrant's IDF modifier
        self.point_ids = [point_id(t) for t in corpus.track_ids]
        self.row = {p: i for i, p in enumerate(self.point_ids)}

    def scores(self, name: str, query: Vector) -> np.ndarray:
        if isinstance(query, SparseVector):
            columns = np.searchsorted(self.vocab, query.indices)
            known = self.vocab[np.minimum(columns, len(self.vocab) - 1)] == query.indices
            q = np.zeros(len(self.vocab))
            q[columns[known]] = np.asarray(query.values)[known]
            return self.terms @ (q * self.idf)
        return self.dense[name] @ np.asarray(query, dtype=np.float32)

    def __call__(self, q: Query, limit: int = 10) -> list[str]:
        k, depth = DEFAULTS.rrf_k, DEFAULTS.prefetch_limit
        excluded = [self.row[p] for p in q.exclude]
        total: dict[int, float] = {}
        for name, vector in q.queries.items():
            s = self.scores(name, vector)
            s[excluded] = -np.inf
            top = np.argpartition(-s, depth)[:depth]
            top = top[np.argsort(-s[top], kind="stable")]
            for rank, i in enumerate(top[np.isfinite(s[top]) & (s[top] > 0)]):
                total[int(i)] = total.get(int(i), 0.0) + 1.0 / (k + rank)
        best = sorted(total, key=lambda i: -total[i])[:limit]
        return [self.point_ids[i] for i in best]


def timed(
    fn: Callable[[Any], Any], items: Sequence[Any], concurrency: int = 1
) -> tuple[list[float], float, list[Any]]:
    """(latencies ms, throughput per s, results) of fn over items, `concurrency` at a time."""

    def one(item: Any) -> tuple[float, Any]:
        t = time.perf_counter()
        result = fn(item)
        return (time.perf_counter() - t) * 1000, result

    started = time.perf_counter()
    if concurrency == 1:
        out = [one(i) for i in items]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            out = list(pool.map(one, items))
    elapsed = time.perf_counter() - started
    return [ms for ms, _ in out], len(items) / elapsed, [r for _, r in out]


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def exact_rrf(store: EdgeStore, q: Query) -> dict[str, float]:
    """Every candidate's fused score from the exact per-modality rankings.

    RRF scores tie by construction (rank r in any one list scores 1/(k + r)), so the tenth
    place is often shared and which tied track the engine returns is arbitrary. As in
    ann-benchmarks, a returned track counts as a hit when its exact score reaches the tenth
    exact score.
    """
    flt = to_filter(Filters(), q.exclude)
    scores: dict[str, float] = {}
    for name, vector in q.queries.items():
        hits = store.search(name, vector, DEFAULTS.prefetch_limit, flt=flt)
        for rank, hit in enumerate(hits):  # Qdrant counts ranks from 0
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (DEFAULTS.rrf_k + rank)
    return scores


def tie_aware_recall(found: list[list[str]], exact: list[dict[str, float]], k: int = 10) -> float:
    hits = 0
    for ids, scores in zip(found, exact, strict=True):
        kth = sorted(scores.values(), reverse=True)[k - 1]
        hits += sum(scores.get(i, 0.0) >= kth - 1e-9 for i in ids)
    return hits / (k * len(found))
