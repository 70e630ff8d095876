"""Reads of kept personal lists while another thread computes other users' lists, in-process:
what the background's computations (after events, the precompute refresh) cost the reads
served beside them.

    python scripts/profile_read_contention.py --data-dir /work/bench/g2-n160000-m16-efc100-none \
        --collection bench --reads 600

Builds the API's resources from the settings of that data dir, preloads the shard's files as
the API's start-up does, computes and keeps the lists of `--users` users, then times
`PersonalLists.recommend_for_user` for them (every call a read) three times: with nothing
else running, while one thread runs the pipeline for other users back to back (as the
API's background does after a burst of events), and idle again. Qdrant Edge holds the GIL
for the whole of each query (docs/performance.md), so a read that arrives during one of the
computation's engine queries waits for it; `--switch-interval` sets Python's
`sys.setswitchinterval` first (the interpreter's default is 0.005 s), which bounds how long
a read waits for the computation's Python parts.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.machine import load_text

from api.resources import build_resources
from core.recommend.lists import PersonalLists
from core.store.preload import preload_store
from schemas.settings import load_settings


def timed_reads(lists: PersonalLists, users: list[str], n: int) -> str:
    ms: list[float] = []
    hits = lists.hits
    for i in range(n):
        started = time.perf_counter()
        lists.recommend_for_user(users[i % len(users)], limit=10)
        ms.append((time.perf_counter() - started) * 1000)
    assert lists.hits - hits == n, "a timed request was computed, not read"
    q = statistics.quantiles(ms, n=100)
    p50 = statistics.median(ms)
    return f"{p50:.2f} | {q[94]:.2f} | {q[98]:.2f} | {max(ms):.1f} | {q[98] / p50:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", default=None)
    parser.add_argument("--users", type=int, default=60, help="users whose lists are read")
    parser.add_argument("--reads", type=int, default=600, help="timed reads per phase")
    parser.add_argument("--switch-interval", type=float, default=None)
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    started_load = load_text()
    overrides = {"collection": args.collection} if args.collection else {}
    settings = load_settings(data_dir=args.data_dir, precompute_users=0, **overrides)
    resources = build_resources(settings)
    preloaded = preload_store(resources.store, settings.preload_store_mb).describe()
    lists, recommender = resources.lists, resources.recommender
    model = resources.collab.current()
    assert model is not None, "no LightFM model in the data dir: run musicrec train"
    users = random.Random(0).sample(sorted(model.user_ids), args.users + 200)
    readers, others = users[: args.users], users[args.users :]
    for user in readers:
        lists.recommend_for_user(user, limit=10)  # computed and kept

    rows = [("nothing else running", timed_reads(lists, readers, args.reads))]
    stop = threading.Event()
    computed = 0

    def compute() -> None:
        nonlocal computed
        while not stop.is_set():
            user = others[computed % len(others)]
            recommender.recommend_for_user(user, limit=settings.list_depth)
            computed += 1

    worker = threading.Thread(target=compute, daemon=True)
    worker.start()
    time.sleep(0.5)  # the computations under way
    started = time.perf_counter()
    busy = timed_reads(lists, readers, args.reads)
    rate = computed / (time.perf_counter() - started + 0.5)
    stop.set()
    worker.join()
    rows += [(f"another thread computing lists ({rate:.1f}/s)", busy)]
    rows += [("nothing else running, again", timed_reads(lists, readers, args.reads))]
    resources.close()

    print(
        f"{args.reads} reads per row of {args.users} kept lists; switch interval "
        f"{sys.getswitchinterval()} s; cores {os.cpu_count()}; {started_load} at start, "
        f"{load_text()} at end; {preloaded}"
    )
    print("| while | p50 ms | p95 ms | p99 ms | max ms | p99 ÷ p50 |\n|---|---|---|---|---|---|")
    for what, cells in rows:
        print(f"| {what} | {cells} |")


if __name__ == "__main__":
    main()
