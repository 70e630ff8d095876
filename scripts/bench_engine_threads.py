"""Do Qdrant Edge queries run in parallel on Python threads?

    python scripts/bench_engine_threads.py --size 160000
    python scripts/bench_engine_threads.py --size 1000000 --quantization int8

The API serves requests from a thread pool, so its throughput on 2 cores depends on whether
the engine releases the GIL while it searches. On a collection built by `bench_query.py`
(same workdir and settings), this times the Recommender's fused query three ways: one thread;
two threads each running the whole set (2 × as many queries: ≈ 1 × the time if the calls run
in parallel, ≈ 2 × if they serialize); and one thread next to a pure-Python busy loop (which
can only run while the query thread has let go of the GIL).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from bench import COLLECTION, DEFAULTS
from bench.collection import collection_tag, fused, make_queries, open_edge
from bench.corpus import real_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musicrec-bench"))
    parser.add_argument("--size", type=int, default=160_000)
    parser.add_argument("--quantization", choices=["none", "int8"], default="none")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    args.m, args.ef_construct = DEFAULTS.hnsw_m, DEFAULTS.hnsw_ef_construct
    tag = collection_tag(args.size, args)
    directory = args.workdir / tag
    if not (directory / "build.json").exists():
        raise SystemExit(f"no {COLLECTION} collection at {directory}: run bench_query.py first")
    store = open_edge(directory, args, exact_search_below=0)
    queries = make_queries(store, real_corpus(args.workdir, 400), args.queries, 1, 0)

    def run() -> None:
        for q in queries:
            fused(store, q)

    run()  # warm: page in the graphs and vectors
    started = time.perf_counter()
    run()
    one = time.perf_counter() - started

    threads = [threading.Thread(target=run) for _ in range(2)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    two = time.perf_counter() - started

    stop = threading.Event()
    spins = [0]

    def spin() -> None:
        while not stop.is_set():
            spins[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    started = time.perf_counter()
    run()
    beside = time.perf_counter() - started
    stop.set()
    spinner.join()

    store.close()
    print(f"{tag}: {args.queries} fused queries")
    print(f"one thread: {one:.2f} s ({args.queries / one:.0f} queries/s)")
    print(
        f"two threads, {args.queries} each: {two:.2f} s = {two / one:.2f} × one thread "
        "(1 = parallel, 2 = serialized)"
    )
    print(f"one thread beside a Python busy loop: {beside:.2f} s = {beside / one:.2f} ×")


if __name__ == "__main__":
    main()
