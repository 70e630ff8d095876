"""Where the personalised call's tail comes from, in-process (no HTTP): per call, the time of
the recommendation, of logging the served list in the database, and the garbage collector's
pauses that fell inside it; the first calls are reported apart.

    python scripts/profile_personal_tail.py --data-dir /tmp/serving-demo --calls 300

Builds the API's resources from the settings of that data dir (the same factory the API's
lifespan uses), takes the model's users, and calls `recommend_for_user` then
`log_recommendations` for them in turn. With `--freeze`, `gc.freeze()` is called after start-up
(what the API's lifespan does), to compare.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.machine import load_text

from api.resources import build_resources
from core.interactions.online import log_recommendations
from core.store.preload import preload_store
from schemas.settings import load_settings


def pct(values: list[float]) -> str:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} | p95 {q[94]:.1f} | p99 {q[98]:.1f} | max {max(values):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--first", type=int, default=5, help="calls reported as the first ones")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after start-up")
    args = parser.parse_args()
    started = load_text()
    settings = load_settings(data_dir=args.data_dir)
    resources = build_resources(settings)
    print(preload_store(resources.store, settings.preload_store_mb).describe())  # as the API
    if args.freeze:
        gc.collect()
        gc.freeze()
    model = resources.collab.current()
    assert model is not None, "no LightFM model in the data dir: run musicrec train"
    users = sorted(model.user_ids)
    rng = random.Random(0)
    pauses: list[float] = []
    gc_started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            pauses.append((time.perf_counter() - gc_started[0]) * 1000)

    gc.callbacks.append(on_gc)
    recommend, logging, gc_in_call, total = [], [], [], []
    for _ in range(args.calls):
        user = rng.choice(users)
        before = len(pauses)
        t0 = time.perf_counter()
        result = resources.recommender.recommend_for_user(user, limit=10)
        t1 = time.perf_counter()
        log_recommendations(resources.interactions, user, result)
        t2 = time.perf_counter()
        recommend.append((t1 - t0) * 1000)
        logging.append((t2 - t1) * 1000)
        total.append((t2 - t0) * 1000)
        gc_in_call.append(sum(pauses[before:]))
    gc.callbacks.remove(on_gc)
    resources.close()
    rest = slice(args.first, None)
    slow = sorted(range(args.first, args.calls), key=lambda i: -total[i])[
        : max(3, args.calls // 100)
    ]
    print(
        f"{args.calls} calls, gc.freeze {args.freeze}; cores {os.cpu_count()}; "
        f"{started} at start, {load_text()} at end"
    )
    print(f"first {args.first} calls ms: {[round(t, 1) for t in total[: args.first]]}")
    print(f"recommend ms      {pct(recommend[rest])}")
    print(f"log served ms     {pct(logging[rest])}")
    print(f"total ms          {pct(total[rest])}")
    print(f"gc pauses: {len(pauses)}, longest {max(pauses, default=0):.1f} ms")
    for i in slow:
        print(
            f"  slow call {i}: total {total[i]:.1f} = recommend {recommend[i]:.1f} "
            f"+ log {logging[i]:.1f}; gc inside {gc_in_call[i]:.1f}"
        )


if __name__ == "__main__":
    main()
