"""Where a computed personalised request goes, stage by stage, in-process (no HTTP, no kept
lists): each candidate source, fetching the pool's points, the cosines, LightFM's scores,
the features and the ranker (LightGBM with TreeSHAP of the explained tracks).

    python scripts/profile_personal_stages.py --data-dir /work/bench/g2-n160000-m16-efc100-none \
        --collection bench --calls 60

Builds the API's resources from the settings of that data dir (the factory the API uses),
reads the shard's files into the page cache as the API's start-up does (`--no-preload` skips
it: after `sync; echo 1 > /proc/sys/vm/drop_caches`, as root, that measures cold pages) and
calls `Recommender.recommend_for_user` for sampled model users, as a request that computes
does (`--limit` tracks, the page explained). Each stage is timed by wrapping the function
that does it (a per-call timer instead of cProfile, whose per-call overhead inflates the many
small calls of the pipeline); p50 and mean per request, over the calls after the warm-up.

Beside each, the same recommender answers a seed request of two of that user's tracks
(`POST /recommendations`'s code, bench_api.py's in-process row): the table's ratios say how
many seed requests of the same run each stage costs. A stage above the 1.5× of issue 26 on
its own is a floor no tuning of the other stages removes.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.machine import load_text

import core.recommend.recommender as pipeline
from api.resources import build_resources
from core.recommend.features import FeatureLayout
from core.recommend.rankers.learned import LearnedRanker
from core.recommend.recommender import SeedRequest
from core.recommend.signals import Similarity
from core.store.preload import preload_store
from schemas.settings import load_settings

#: Per stage, the milliseconds spent in it during the current request.
spent: dict[str, float] = defaultdict(float)


def timed(stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[stage] += (time.perf_counter() - started) * 1000

    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", default=None)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--limit", type=int, default=10, help="tracks asked (and explained)")
    parser.add_argument(
        "--no-preload",
        action="store_true",
        help="skip reading the shard's files into the page cache first (the API's start-up "
        "reads them; with the page cache dropped before, this measures cold pages)",
    )
    args = parser.parse_args()
    started_load = load_text()
    overrides = {"collection": args.collection} if args.collection else {}
    settings = load_settings(data_dir=args.data_dir, **overrides)
    resources = build_resources(settings)
    preloaded = (
        "shard files not preloaded (--no-preload)"
        if args.no_preload
        else preload_store(resources.store, settings.preload_store_mb).describe()
    )
    recommender = resources.recommender
    for active in recommender.sources:
        name = f"source: {active.spec.name}"
        object.__setattr__(active.source, "propose", timed(name, active.source.propose))
    pipeline.hydrate = timed("fetch the pool's points", pipeline.hydrate)
    pipeline.fetch_seeds = timed("fetch the seeds", pipeline.fetch_seeds)
    pipeline.collaborative_scores = timed("LightFM scores", pipeline.collaborative_scores)
    Similarity.many = timed("cosines", Similarity.many)  # type: ignore[method-assign]
    FeatureLayout.rows = timed("features", FeatureLayout.rows)  # type: ignore[method-assign]
    LearnedRanker.rank = timed("ranker (LightGBM + TreeSHAP)", LearnedRanker.rank)  # type: ignore[method-assign]
    if recommender.history is not None:
        history = recommender.history
        object.__setattr__(history, "recent", timed("history read", history.recent))

    model = resources.collab.current()
    assert model is not None, "no LightFM model in the data dir: run musicrec train"
    rng = random.Random(0)
    users = rng.sample(sorted(model.user_ids), args.calls + 5)
    totals: list[float] = []
    seed_ms: list[float] = []
    per_stage: dict[str, list[float]] = defaultdict(list)
    for i, user in enumerate(users):
        spent.clear()
        started = time.perf_counter()
        result = recommender.recommend_for_user(user, limit=args.limit)
        elapsed = (time.perf_counter() - started) * 1000
        assert result.personalization.ranker == "learned", result.personalization
        stages = dict(spent)  # (the seed request's own stages are not the pipeline's)
        seeds = sorted(model.known_items(user))[:2]
        started = time.perf_counter()
        recommender.recommend(SeedRequest(positive=seeds, limit=args.limit))
        seed_elapsed = (time.perf_counter() - started) * 1000
        if i < 5:
            continue  # warm-up
        totals.append(elapsed)
        seed_ms.append(seed_elapsed)
        for stage, ms in stages.items():
            per_stage[stage].append(ms)
    resources.close()  # the shard flushed and its lock released, as the API's shutdown does

    print(
        f"{args.calls} computed requests, limit {args.limit}; cores {os.cpu_count()}; "
        f"{started_load} at start, {load_text()} at end; {preloaded}"
    )
    seed = statistics.median(seed_ms)
    print("| stage | p50 ms | mean ms | p50 ÷ seed request |\n|---|---|---|---|")
    print(
        f"| seed request (2 seeds), for scale | {seed:.1f} | {statistics.mean(seed_ms):.1f} | 1 |"
    )
    rows = [
        ("whole request", totals),
        *sorted(per_stage.items(), key=lambda kv: -statistics.median(kv[1])),
    ]
    for stage, times in rows:
        p50 = statistics.median(times)
        print(f"| {stage} | {p50:.1f} | {statistics.mean(times):.1f} | {p50 / seed:.2f} |")


if __name__ == "__main__":
    main()
