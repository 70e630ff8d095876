"""Fused-query latency, recall and memory at catalog scale (160k and 1M tracks).

    python scripts/bench_query.py --workdir /tmp/musicrec-bench --sizes 160000
    python scripts/bench_query.py --workdir /tmp/musicrec-bench --sizes 160000 1000000 \
        --quantization int8

No real catalog of that size is available offline, so the collections hold the real vectors
(standardized audio features of the ~28k TidyTuesday tracks, a few hundred billboard lyrics
embedded by the product's LyricsEncoder with their BM25 terms) plus synthetic vectors drawn
from Gaussian mixtures fitted on real vectors (covers: the 500 real Discogs covers through the
product's CNN encoder). Uniform random vectors would make HNSW look better or worse for
reasons that have nothing to do with music. Which real lyric sits on which real track is
arbitrary; the queries are the real tracks with real lyrics and audio.

Everything goes through the product: collections are written with `EdgeStore.upsert` in
batches and indexed with `EdgeStore.optimize`, queries are the Recommender's, and the HTTP rows
run `python -m api` (uvicorn on 127.0.0.1) as a separate process whose RSS is reported.
Built collections are cached under --workdir, keyed by size and index settings.
Needs the `eval` extra (scikit-learn, for the mixture fit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


from bench import DEFAULTS
from bench.collection import add_build_arguments, build, collection_tag
from bench.corpus import real_corpus
from bench.machine import load_text
from bench.rows import engine_rows
from bench.serving import http_rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add_build_arguments(parser)
    parser.add_argument("--sizes", type=int, nargs="+", default=[160_000])
    parser.add_argument(
        "--ef",
        type=int,
        nargs="+",
        default=[DEFAULTS.hnsw_ef],
        help="hnsw_ef values to measure; the API runs with the first",
    )
    parser.add_argument("--exact-search-below", type=int, default=DEFAULTS.exact_search_below)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[2, 4],
        help="concurrent clients for the HTTP rows (one row each; the engine rows use the last)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="positive seeds per query")
    parser.add_argument("--skip-numpy", action="store_true", help="no brute-force floor")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--skip-engine",
        action="store_true",
        help="HTTP rows only (the engine rows and ground truth take minutes at 1M)",
    )
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=0,
        help="serve under this hard memory limit (a cgroup; needs root)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build and cache the collections, measure nothing (measure later on a quiet machine)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    real = real_corpus(args.workdir, args.real_lyrics)
    for size in args.sizes:
        tag = collection_tag(size, args)
        directory = args.workdir / tag
        stats = build(directory, size, real, args)
        if args.build_only:
            print(f"built {tag}: {json.dumps(stats)}")
            continue
        started_load = load_text()
        rows = [] if args.skip_engine else engine_rows(directory, size, real, args)
        memory: dict[str, float] = {}
        if not args.skip_http:
            more, memory = http_rows(directory, size, real, args)
            rows += more
        result = {
            "size": size,
            "tag": tag,
            "build": stats,
            "memory": memory,
            "load": [started_load, load_text()],
            "cores": os.cpu_count(),
        }
        print(
            f"\n### {size:,} tracks ({tag}); {args.queries} queries, {args.seeds} seed(s); "
            f"cores {os.cpu_count()}; {started_load} at start, {load_text()} at end"
        )
        print(f"build: {json.dumps(stats)}")
        if memory:
            print("API RSS: " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))
        print(
            "| query | p50 ms | p95 ms | p99 ms | /s serial | /s concurrent | recall@10 | notes |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(row.markdown())
        result["rows"] = [
            {
                "what": r.what,
                "p50": statistics.median(r.ms),
                "qps": r.qps,
                "qps_concurrent": r.qps_concurrent,
                "recall": r.recall,
                "detail": r.detail,
                "p99": statistics.quantiles(r.ms, n=100, method="inclusive")[98],
            }
            for r in rows
        ]
        (directory / f"result-{int(time.time())}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
