"""Latency of `POST /recommendations` over HTTP next to the engine query it wraps.

    python scripts/bench_api.py --requests 300 --concurrency 4
    python scripts/bench_api.py --data-dir /tmp/musicrec-bench/g2-n160000-m16-efc100-none \
        --collection bench --requests 100 --concurrency 2 --users 150

The second serves the 160k-track collection scripts/bench_personal.py builds and trains.

Serves an already indexed data dir (default: data/, as left by scripts/demo.sh) with uvicorn
on 127.0.0.1, sends a fixed number of requests with random real seeds, and times the same
fused query called directly on the store. Loopback only; bounded request count.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import uvicorn
from bench.machine import load_text

from api.main import create_app
from core.collab.artefact import load_latest
from core.recommend.factory import build_recommender
from core.recommend.recommender import SeedRequest
from core.store import open_store
from schemas.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]


def percentiles(ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return f"{q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data")
    parser.add_argument(
        "--collection", default=None, help="collection name (default: MUSICREC_COLLECTION)"
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2, help="positive seeds per request")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument(
        "--users",
        type=int,
        default=0,
        help="also time GET /users/{id}/recommendations for this many model users: the "
        "linear blend (collab_weight=0.8, the pre-ranker path) and the learned ranker, "
        "interleaved in one run",
    )
    args = parser.parse_args()
    overrides = {"collection": args.collection} if args.collection else {}
    settings = load_settings(data_dir=args.data_dir, **overrides)
    started_load = load_text()
    rng = random.Random(0)

    store = open_store(settings)
    track_ids = [r.payload["track_id"] for batch in store.scroll(1000) for r in batch]
    bodies = [
        {"positive": rng.sample(track_ids, args.seeds), "limit": args.limit}
        for _ in range(args.requests)
    ]
    direct = build_recommender(settings, store)  # what serves, from the same settings
    engine_ms = []
    for body in bodies:
        started = time.perf_counter()
        direct.recommend(SeedRequest(**body))
        engine_ms.append((time.perf_counter() - started) * 1000)
    store.close()  # the embedded shard has one owner: hand it to the server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def call(body: dict) -> float:
        started = time.perf_counter()
        response = client.post("/recommendations", json=body)
        response.raise_for_status()
        return (time.perf_counter() - started) * 1000

    for body in bodies[:10]:
        call(body)  # warm-up
    serial = [call(b) for b in bodies]
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        concurrent = list(pool.map(call, bodies))
    throughput = len(bodies) / (time.perf_counter() - started)
    assert settings.model_dir is not None  # load_settings derives it from the data dir
    users = model_users(settings.model_dir) if args.users else []
    personal = user_latency(client, args.users, rng, users) if args.users else {}
    personal_throughput = (
        user_throughput(client, args.users, args.concurrency, rng, users) if args.users else 0.0
    )
    client.close()
    server.should_exit = True
    thread.join()
    finished_load = load_text()

    print(
        f"collection: {len(track_ids)} tracks ({settings.engine}); {args.requests} requests, "
        f"{args.seeds} seeds, limit {args.limit}; cores {os.cpu_count()}; "
        f"{started_load} at start, {finished_load} at end"
    )
    print("| what | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|")
    print(f"| recommendation logic + engine, in-process | {percentiles(engine_ms)} |")
    print(f"| POST /recommendations over HTTP, 1 client | {percentiles(serial)} |")
    print(
        f"| POST /recommendations, {args.concurrency} concurrent clients "
        f"| {percentiles(concurrent)} |"
    )
    for what, ms in personal.items():
        print(f"| GET /users/{{id}}/recommendations, {what}, 1 client | {percentiles(ms)} |")
    print(f"throughput with {args.concurrency} clients: {throughput:.0f} requests/s, 0 errors")
    if personal:
        print(
            f"throughput of GET /users/{{id}}/recommendations (learned ranker) with "
            f"{args.concurrency} clients: {personal_throughput:.1f} requests/s, 0 errors"
        )
        blend, learned = (statistics.median(ms) for ms in personal.values())
        print(f"p50 learned ranker / linear blend: {learned / blend:.2f}x")


def model_users(model_dir: Path) -> list[str]:
    """The users of the published model (the personalised calls are asked for them)."""
    model = load_latest(model_dir)
    if model is None:
        raise SystemExit(f"--users needs a trained model in {model_dir} (`musicrec train`)")
    return sorted(model.user_ids)


def user_latency(
    client: httpx.Client, n: int, rng: random.Random, users: list[str]
) -> dict[str, list[float]]:
    """Both rankers on the same users, alternating request by request, so machine load
    affects both alike; the ranker's use is checked on every answer."""
    out: dict[str, list[float]] = {"linear blend": [], "learned ranker": []}
    for i in range(n):
        user = rng.choice(users)
        for what, params in (("linear blend", {"collab_weight": 0.8}), ("learned ranker", {})):
            started = time.perf_counter()
            response = client.get(f"/users/{user}/recommendations", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            ranker = response.json()["personalization"]["ranker"]
            assert ranker == ("learned" if not params else "linear-blend"), ranker
            if i >= 5:  # warm-up
                out[what].append(elapsed)
    return out


def user_throughput(
    client: httpx.Client, n: int, concurrency: int, rng: random.Random, users: list[str]
) -> float:
    """Requests per second of the learned ranker's personalised call, `concurrency` clients
    at once on `n` sampled model users."""
    sampled = [rng.choice(users) for _ in range(n)]

    def get(user: str) -> None:
        response = client.get(f"/users/{user}/recommendations")
        response.raise_for_status()
        assert response.json()["personalization"]["ranker"] == "learned"

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, sampled))
    return n / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
