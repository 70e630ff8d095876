"""Latency of `POST /recommendations` over HTTP next to the engine query it wraps.

    python scripts/bench_api.py --requests 300 --concurrency 4
    python scripts/bench_api.py --data-dir /tmp/musicrec-bench/g2-n160000-m16-efc100-none \
        --collection bench --requests 100 --concurrency 2 --users 150

The second serves the 160k-track collection scripts/bench_personal.py builds and trains.

Serves an already indexed data dir (default: data/, as left by scripts/demo.sh) with uvicorn
on 127.0.0.1, sends a fixed number of requests with random real seeds, and times the same
fused query called directly on the store. Loopback only; bounded request count. The server
runs on a copy of the data dir's SQLite database: the served lists it logs and the events it
records with `--users` (two per user, to time the requests after an event) stay out of the
real one.
"""

from __future__ import annotations

import argparse
import atexit
import copy
import json
import os
import random
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import uvicorn
from bench.machine import load_text
from bench.serving import free_port
from pydantic import SecretStr

from api.main import create_app
from core.collab.artefact import load_latest
from core.recommend.factory import build_recommender
from core.recommend.lists import PersonalLists
from core.recommend.recommender import SeedRequest
from core.store import open_store
from core.store.preload import preload_store
from schemas.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
KEY = secrets.token_urlsafe(16)  # the bench server's own key (loopback only)


def percentile(ms: list[float], p: int) -> float:
    return statistics.quantiles(ms, n=100, method="inclusive")[p - 1]


def percentiles(ms: list[float]) -> str:
    return " | ".join(f"{percentile(ms, p):.1f}" for p in (50, 95, 99))


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
        help="also time GET /users/{id}/recommendations for this many distinct model users: "
        "the linear blend (collab_weight=0.8), the learned ranker computed (a user's first "
        "request), read from the kept list (their second), and after a new event (once its "
        "background recomputation is done, and at once), interleaved in one run",
    )
    args = parser.parse_args()
    overrides = {"collection": args.collection} if args.collection else {}
    settings = load_settings(data_dir=args.data_dir, **overrides)
    started_load = load_text()
    rng = random.Random(0)

    store = open_store(settings)
    # The shard's files into the page cache as the API's start-up does: the in-process
    # query below is measured as the API serves.
    preloaded = preload_store(store, settings.preload_store_mb).describe()
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

    port = free_port()
    # Every personalised answer is logged (no per-address budget: the bench is one address),
    # and no list is computed ahead: a user's first request runs the pipeline, the next reads;
    # after an event the user's list is recomputed in the background.
    scratch = Path(tempfile.mkdtemp(prefix="musicrec-bench-"))
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # a failed run's too
    served = settings.model_copy(
        update={
            "rate_limit_served_log": None,
            "precompute_users": 0,
            "recompute_after_events": True,
            "database_url": database_copy(settings.database_url, scratch),
            "api_key": SecretStr(KEY),  # the bench records events: writes
        }
    )
    app = create_app(served)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    # The API reads the shard's files into the page cache after it starts (already cached
    # here: it takes a core for a second or two at 160k); measure once that is done.
    while app.state.resources.preloaded is None:
        time.sleep(0.05)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", timeout=30, headers={"X-API-Key": KEY}
    )

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
    users = rng.sample(model_users(settings.model_dir), args.users) if args.users else []
    lists = app.state.resources.lists
    personal, at_once_waited = user_latency(client, users, lists) if users else ({}, [])
    if users:
        list_bytes = kept_bytes(lists)  # (before the background computes again below)
        busy_reads, recomputed_rate = reads_beside_recomputation(
            client, users, lists, track_ids, rng
        )
        personal[BUSY_READ] = busy_reads
        read_throughput = user_throughput(client, users, args.concurrency)
        lists.clear()
        computed_throughput = user_throughput(client, users, args.concurrency)
    client.close()
    server.should_exit = True
    thread.join()
    finished_load = load_text()

    print(
        f"collection: {len(track_ids)} tracks ({settings.engine}); {args.requests} requests, "
        f"{args.seeds} seeds, limit {args.limit}; cores {os.cpu_count()}; "
        f"{started_load} at start, {finished_load} at end; {preloaded}"
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
        engine = statistics.median(engine_ms)
        post = statistics.median(serial)
        read, computed = personal[READ], personal[COMPUTED]
        read_p50, read_p99 = statistics.median(read), percentile(read, 99)
        print(
            f"learned ranker, {args.concurrency} clients: {read_throughput:.1f} requests/s "
            f"read from kept lists, {computed_throughput:.1f} requests/s computed, 0 errors"
        )
        print(
            f"kept list read: p50 {read_p50 / engine:.2f}x the in-process fused query, "
            f"{read_p50 / post:.2f}x POST /recommendations; p99 {read_p99 / read_p50:.2f}x "
            f"its p50"
        )
        print(
            f"while the background recomputes ({recomputed_rate:.1f} lists/s after events of "
            "other users, one after the other): kept list read p99 "
            f"{percentile(busy_reads, 99) / statistics.median(busy_reads):.2f}x its p50"
        )
        for what, ms in ((COMPUTED, computed), (AFTER_EVENT, personal[AFTER_EVENT])):
            print(
                f"{what}: p50 {statistics.median(ms) / engine:.2f}x the in-process fused "
                f"query, {statistics.median(ms) / post:.2f}x POST /recommendations; "
                f"p99 {percentile(ms, 99) / statistics.median(ms):.2f}x its p50"
            )
        print(
            f"at once after an event: {sum(at_once_waited)} requests waited for the "
            f"background's computation, {len(at_once_waited) - sum(at_once_waited)} computed "
            f"before it"
        )
        each = list_bytes / len(users)
        print(
            f"kept lists: {each / 1024:.1f} KiB each (MUSICREC_LIST_DEPTH={settings.list_depth}); "
            f"at MUSICREC_LIST_CACHE_SIZE={settings.list_cache_size}: "
            f"{each * settings.list_cache_size / 2**20:.0f} MiB"
        )


def database_copy(url: str | None, scratch: Path) -> str:
    """A copy of the data dir's SQLite database in `scratch` (the bench records events)."""
    prefix = "sqlite:///"
    if url is None or not url.startswith(prefix):
        raise SystemExit(f"bench_api.py serves a copy of an SQLite database, not {url!r}")
    source = sqlite3.connect(url.removeprefix(prefix))
    target = sqlite3.connect(scratch / "musicrec.db")
    source.backup(target)  # consistent even while another process writes
    source.close()
    target.close()
    return f"{prefix}{(scratch / 'musicrec.db').as_posix()}"


def model_users(model_dir: Path) -> list[str]:
    """The users of the published model (the personalised calls are asked for them)."""
    model = load_latest(model_dir)
    if model is None:
        raise SystemExit(f"--users needs a trained model in {model_dir} (`musicrec train`)")
    return sorted(model.user_ids)


BLEND = "linear blend (pipeline)"
COMPUTED = "learned ranker, computed (pipeline)"
READ = "learned ranker, kept list read"
AFTER_EVENT = "learned ranker, after an event, recomputed in the background"
AT_ONCE = "learned ranker, at once after an event"
BUSY_READ = "learned ranker, kept list read while the background recomputes others' lists"


def user_latency(
    client: httpx.Client, users: list[str], lists: PersonalLists
) -> tuple[dict[str, list[float]], list[bool]]:
    """Per user, one after the other (machine load affects all alike): the linear blend
    (never kept), the learned ranker's first request (the pipeline runs, its list is kept),
    its second (read from the kept list), the next one after an event of theirs once the
    background recomputation it started is done (a read), and the next at once after
    another event (it waits for that recomputation, or computes first). The ranker's use is
    checked on every answer, which were computed and which read on the API's counters, and
    the played tracks' exclusion on the answer after the events."""
    out: dict[str, list[float]] = {b: [] for b in (BLEND, COMPUTED, READ, AFTER_EVENT, AT_ONCE)}
    at_once_waited: list[bool] = []  # per timed request at once after an event

    def timed(what: str, user: str, params: dict[str, float], warm: bool) -> dict:
        started = time.perf_counter()
        response = client.get(f"/users/{user}/recommendations", params=params)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        body = response.json()
        ranker = body["personalization"]["ranker"]
        assert ranker == ("linear-blend" if params else "learned"), ranker
        if warm:
            out[what].append(elapsed)
        return body

    def play(user: str, body: dict) -> str:
        played = body["items"][0]["track"]["id"]
        event = {"events": [{"user_id": user, "track_id": played}]}
        client.post("/interactions", json=event).raise_for_status()
        return played

    def counts() -> tuple[int, int]:
        return lists.misses, lists.hits

    def settled(before: tuple[int, int], answers: int) -> tuple[int, int]:
        """Wait until the lists have answered `answers` more times than `before` (the
        background's work included); the (computed, read) counts it took."""
        deadline = time.monotonic() + 60
        while sum(counts()) < sum(before) + answers and time.monotonic() < deadline:
            time.sleep(0.005)
        misses, hits = counts()
        return misses - before[0], hits - before[1]

    for i, user in enumerate(users):
        warm = i >= 5
        timed(BLEND, user, {"collab_weight": 0.8}, warm)
        before = counts()
        timed(COMPUTED, user, {}, warm)
        body = timed(READ, user, {}, warm)
        assert settled(before, 2) == (1, 1), "first request computed, second read"
        before = counts()
        played = play(user, body)
        assert settled(before, 1) == (1, 0), "the list recomputed after the event"
        before = counts()
        body = timed(AFTER_EVENT, user, {}, warm)
        assert settled(before, 1) == (0, 1), "the request after it is a read"
        again = play(user, body)
        before = counts()
        body = timed(AT_ONCE, user, {}, warm)
        assert not {played, again} & {t["track"]["id"] for t in body["items"]}
        # The request either waited for the background's computation (then read it), or
        # computed first; the background then computed again, to explain the whole list.
        waited = settled(before, 2) == (1, 1)
        if warm:
            at_once_waited.append(waited)
    return out, at_once_waited


def reads_beside_recomputation(
    client: httpx.Client,
    users: list[str],
    lists: PersonalLists,
    track_ids: list[str],
    rng: random.Random,
) -> tuple[list[float], float]:
    """Reads of kept lists while the API's background recomputes other users' lists: half
    the users (after the warm-up) are read, one request after the other, by a client in a
    process of its own (scripts/bench/remote_reads.py: this one shares the server's GIL),
    while a thread here records an event for one of the other half as soon as the
    background has recomputed the list the previous event made due (a steady stream of
    events, the background never idle). Qdrant Edge holds the GIL during each of the
    computation's queries, so this is the read as it is served beside that work; the `READ`
    row is the same read with the background idle. Returns the read times and the
    recomputations per second."""
    half = 5 + (len(users) - 5) // 2
    readers, others = users[5:half], users[half:]
    stop = threading.Event()

    def events() -> None:
        i = 0
        while not stop.is_set():
            done = lists.recomputed_after_events
            event = {"user_id": others[i % len(others)], "track_id": rng.choice(track_ids)}
            client.post("/interactions", json={"events": [event]}).raise_for_status()
            i += 1
            deadline = time.monotonic() + 30
            while lists.recomputed_after_events == done:  # (the last one too: idle after)
                if time.monotonic() > deadline:
                    raise AssertionError("the background did not recompute after an event")
                time.sleep(0.001)

    for user in readers:  # their lists current (no event of theirs comes in this phase)
        client.get(f"/users/{user}/recommendations").raise_for_status()
    hits, recomputed = lists.hits, lists.recomputed_after_events
    poster = threading.Thread(target=events, daemon=True)
    started = time.perf_counter()
    poster.start()
    remote = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "bench" / "remote_reads.py"),
            "--url",
            str(client.base_url),
            "--count",
            str(4 * len(readers)),
            *readers,
        ],
        env={**os.environ, "MUSICREC_BENCH_KEY": KEY},
        capture_output=True,
        text=True,
        check=True,
    )
    stop.set()
    poster.join()
    rate = (lists.recomputed_after_events - recomputed) / (time.perf_counter() - started)
    ms: list[float] = json.loads(remote.stdout)
    # Every timed request was a read: the background's recomputations after events compute
    # (misses), so the hits are the timed requests'.
    assert lists.hits - hits == len(ms), "a timed request was computed, not read"
    return ms, rate


def user_throughput(client: httpx.Client, users: list[str], concurrency: int) -> float:
    """Requests per second of the learned ranker's personalised call, `concurrency` clients
    at once, one request per user."""

    def get(user: str) -> None:
        response = client.get(f"/users/{user}/recommendations")
        response.raise_for_status()
        assert response.json()["personalization"]["ranker"] == "learned"

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get, users))
    return len(users) / (time.perf_counter() - started)


def kept_bytes(lists: PersonalLists) -> int:
    """Memory the kept lists hold: what a deep copy of them allocates (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    copies = copy.deepcopy(lists.kept())
    size = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    del copies
    return size


if __name__ == "__main__":
    main()
