"""What the personal content query costs in the engine: the fused query a computed
personalised request makes (its user's 50 most recent tracks as seeds, their history
excluded), timed as the raw Qdrant Edge call with less and less returned, and each of its
prefetches alone, HNSW and exact.

    python scripts/profile_content_query.py --data-dir /work/bench/g2-n160000-m16-efc100-none \
        --collection bench --users 40

The query is the recommender's own (`Recommender.user_query`, the content source's prefetch
limit and the pool it asks for, and the tie margin `stable_top` adds), the fused request built
by `EdgeStore.fused_request` as `fused_search` sends it; only the shard call is
timed, each variant on the same users, one after the other, after the shard's files were
read into the page cache as the API's start-up does. Edge only: with a server the same query
crosses the network, which is not what this measures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import qdrant_edge as qe
from bench.machine import load_text

from api.resources import build_resources
from core.recommend.query import to_filter
from core.recommend.signals import sparse_names
from core.recommend.ties import MARGIN
from core.store.base import WithVectors
from core.store.edge import EdgeStore
from core.store.edge_types import to_engine
from core.store.edge_types import to_filter as engine_filter
from core.store.preload import preload_store
from schemas.settings import load_settings
from schemas.vectors import SparseVector, Vector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", default=None)
    parser.add_argument("--users", type=int, default=40)
    args = parser.parse_args()
    started_load = load_text()
    overrides = {"collection": args.collection} if args.collection else {}
    settings = load_settings(data_dir=args.data_dir, **overrides)
    resources = build_resources(settings)
    store = resources.store
    if not isinstance(store, EdgeStore):
        raise SystemExit("this profiles the embedded engine: unset QDRANT_URL")
    preloaded = preload_store(store, settings.preload_store_mb).describe()
    recommender = resources.recommender
    content = recommender.content
    pool = next(a.pool for a in recommender.sources if a.spec.name == content.name)
    limit = pool + max(MARGIN, pool // 10)  # what `stable_top` asks the engine for
    model = resources.collab.current()
    assert model is not None, "no LightFM model in the data dir: run musicrec train"
    users = random.Random(0).sample(sorted(model.user_ids), args.users + 3)

    times: dict[str, list[float]] = {}
    terms: list[int] = []

    def timed(label: str, request: qe.QueryRequest) -> None:
        started = time.perf_counter()
        store.shard.query(request)
        times.setdefault(label, []).append((time.perf_counter() - started) * 1000)

    for user in users:
        q = recommender.user_query(user)
        flt = to_filter(q.filters, q.exclude, ())
        engine = engine_filter(flt)
        names = list(q.queries)
        hnsw = qe.SearchParams(hnsw_ef=store.tuning.hnsw_ef, exact=False)
        exact = qe.SearchParams(exact=True)
        queries: dict[str, Vector] = {
            k: v if isinstance(v, SparseVector) else list(v) for k, v in q.queries.items()
        }
        returned: list[tuple[str, bool, WithVectors]] = [
            ("payloads and sparse terms (as served)", True, sparse_names(q.queries)),
            ("payloads", True, False),
            ("ids and scores only", False, False),
        ]
        for label, payload, vectors in returned:
            request = store.fused_request(  # what the content source's query sends
                queries,
                dict(q.weights),
                limit,
                flt=flt,
                fusion=content.fusion,
                prefetch_limit=content.prefetch_limit,
                rrf_k=content.rrf_k,
                with_vectors=vectors,
                with_payload=payload,
            )
            timed(f"fused, {label}", request)
        for name in names:
            for kind, params in (("HNSW", hnsw), ("exact", exact)):
                timed(
                    f"{name} alone, {kind}, ids only",
                    qe.QueryRequest(
                        limit=max(content.prefetch_limit, limit),
                        query=qe.Query.Nearest(to_engine(q.queries[name]), using=name),
                        filter=engine,
                        params=params,
                        with_payload=False,
                        with_vector=False,
                    ),
                )
        terms.append(sum(len(getattr(v, "indices", ())) for v in q.queries.values()))
    resources.close()

    print(
        f"{args.users} users, limit {limit}, prefetch {max(content.prefetch_limit, limit)}, "
        f"sparse query terms p50 {statistics.median(terms[3:]):.0f}; cores {os.cpu_count()}; "
        f"{started_load} at start, {load_text()} at end; {preloaded}"
    )
    print("| shard call | p50 ms | mean ms |\n|---|---|---|")
    for label, ms in times.items():
        warm = ms[3:]  # the first users warm up
        print(f"| {label} | {statistics.median(warm):.1f} | {statistics.mean(warm):.1f} |")


if __name__ == "__main__":
    main()
