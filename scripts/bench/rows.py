"""One measured row per query kind, straight on the engine."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench.collection import Query, fused, make_queries, open_edge
from bench.corpus import Real, load_corpus
from bench.truth import BruteForce, exact_rrf, recall, tie_aware_recall, timed
from core.recommend.query import to_filter
from core.store.edge import EdgeStore
from schemas.api import Filters
from schemas.layout import DENSE_MODALITIES


@dataclass
class Row:
    what: str
    ms: list[float]
    qps: float
    qps_concurrent: float | None = None
    recall: float | None = None
    detail: str = ""

    def markdown(self) -> str:
        q = statistics.quantiles(self.ms, n=100, method="inclusive")
        conc = "" if self.qps_concurrent is None else f"{self.qps_concurrent:.0f}"
        rec = "" if self.recall is None else f"{self.recall:.3f}"
        return (
            f"| {self.what} | {q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f} | {self.qps:.0f} | {conc} "
            f"| {rec} | {self.detail} |"
        )


def single_top10(store: EdgeStore, queries: list[Query]) -> dict[str, list[list[str]]]:
    """Per-modality top 10 (one named vector each): tells which graph limits fused recall."""
    return {
        name: [
            [
                h.id
                for h in store.search(
                    name, q.queries[name], 10, flt=to_filter(Filters(), q.exclude)
                )
            ]
            for q in queries
        ]
        for name in DENSE_MODALITIES
    }


def engine_rows(directory: Path, size: int, real: Real, args: argparse.Namespace) -> list[Row]:
    """Exact search, the numpy floor, then HNSW at each hnsw_ef (a store constructor setting)."""
    exact = open_edge(directory, args, exact_search_below=size + 1)
    queries = make_queries(exact, real, args.queries, args.seeds, args.seed)
    fused(exact, queries[0])  # warm
    ms, qps, truth = timed(lambda q: fused(exact, q), queries)
    _, qps_c, _ = timed(lambda q: fused(exact, q), queries, args.concurrency[-1])
    truth_single = single_top10(exact, queries)
    truth_scores = [exact_rrf(exact, q) for q in queries]
    exact.close()
    rows = [Row("engine fused, exact (ground truth)", ms, qps, qps_c)]
    if not args.skip_numpy:
        brute = BruteForce(load_corpus(directory, size, real))
        brute(queries[0])
        ms, qps, found = timed(brute, queries)
        rows.append(
            Row(
                "numpy brute force, same fused query",
                ms,
                qps,
                None,
                tie_aware_recall(found, truth_scores),
                f"agreement with engine exact (ids alone: {recall(found, truth):.3f})",
            )
        )
        del brute
    for ef in args.ef:
        store = open_edge(directory, args, hnsw_ef=ef, exact_search_below=0)
        fused(store, queries[0])
        ms, qps, found = timed(lambda q, s=store: fused(s, q), queries)
        _, qps_c, _ = timed(lambda q, s=store: fused(s, q), queries, args.concurrency[-1])
        single = single_top10(store, queries)
        store.close()
        detail = ", ".join(f"{n} {recall(single[n], truth_single[n]):.3f}" for n in single)
        detail += f"; fused, ids alone: {recall(found, truth):.3f}"
        rows.append(
            Row(
                f"engine fused, HNSW ef={ef}",
                ms,
                qps,
                qps_c,
                tie_aware_recall(found, truth_scores),
                f"single-vector recall@10: {detail}",
            )
        )
    return rows
