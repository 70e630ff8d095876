"""Read latency while the API runs an index job of the demo catalog in its own process.

    python scripts/bench_jobs.py --workdir /tmp/musicrec-bench-jobs --clients 2

Indexes a small base of the demo catalog (the first `--base` rows) into a fresh data dir,
starts `python -m api` on it (the embedded engine: the API owns the shard), then sends
`POST /recommendations` with random base seeds from `--clients` threads twice: for
`--idle-seconds` with no job, then for as long as an index job of the whole demo catalog
(data/demo/tracks.csv, submitted with `POST /jobs/upload`) runs. Prints p50/p95/p99 of both
phases, their ratio, the job's duration and the load average. The job grows the collection
(300 → 2,967 tracks, exact search below MUSICREC_EXACT_SEARCH_BELOW), so `--after-job` then
measures idle reads on the final collection: the baseline without the job's cost. Loopback
only; the request loops stop with their phase (bounded by `--max-seconds`).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
from bench.machine import load_text

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo" / "tracks.csv"
KEY = "bench-key-0123456789abcdef"


def quantiles(ms: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return q[49], q[94], q[98]


def reads(
    url: str, seeds: list[str], clients: int, until: threading.Event, cap: float
) -> list[float]:
    """Latencies (ms) of seed recommendations from `clients` threads until `until` is set."""
    times: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + cap

    def loop(worker: int) -> None:
        rng = random.Random(worker)
        with httpx.Client(base_url=url, timeout=60) as client:
            while not until.is_set() and time.monotonic() < deadline:
                body = {"positive": rng.sample(seeds, 2), "limit": 10}
                started = time.perf_counter()
                answer = client.post("/recommendations", json=body)
                elapsed = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                with lock:
                    times.append(elapsed)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musicrec-bench-jobs"))
    parser.add_argument("--base", type=int, default=300, help="demo rows indexed before")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--max-seconds", type=float, default=1800)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--after-job",
        action="store_true",
        help="reuse --workdir as a finished run left it (the whole demo indexed) and measure "
        "idle reads only: the baseline at the job's final collection size",
    )
    args = parser.parse_args()

    data = args.workdir / "data"
    if not args.after_job:
        shutil.rmtree(args.workdir, ignore_errors=True)
        data.mkdir(parents=True)

    with DEMO.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    base = args.workdir / "base.csv"
    with base.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows[: args.base])
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MUSICREC_DATA_DIR": str(data),
        "MUSICREC_API_KEY": KEY,
        "MUSICREC_API_PORT": str(args.port),
        "MUSICREC_COVER_ENCODER": "none",
        "MUSICREC_RATE_LIMIT_SEARCH": "off",
    }
    cli = [sys.executable, "-m", "cli"]
    if not args.after_job:
        subprocess.run([*cli, "index", str(base), "--no-progress"], env=env, check=True)
    log = (args.workdir / "api.log").open("wb")
    api = subprocess.Popen([sys.executable, "-m", "api"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{args.port}"
    try:
        with httpx.Client(base_url=url, timeout=30, headers={"X-API-Key": KEY}) as client:
            for _ in range(600):
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            seeds = [r["id"] for r in rows[: args.base]]
            idle_done = threading.Event()
            threading.Timer(args.idle_seconds, idle_done.set).start()
            idle = reads(url, seeds, args.clients, idle_done, args.max_seconds)
            load_idle = load_text()
            if args.after_job:
                i50, i95, i99 = quantiles(idle)
                print(
                    f"idle after the job: {len(idle)} reads, p50 {i50:.1f} ms, p95 {i95:.1f} "
                    f"ms, p99 {i99:.1f} ms ({load_idle})"
                )
                return

            job_done = threading.Event()
            started = time.monotonic()
            with DEMO.open("rb") as fh:
                job = client.post(
                    "/jobs/upload", content=fh, headers={"content-type": "text/csv"}
                ).json()
            result: dict = {}

            def watch() -> None:
                while True:
                    state = client.get(f"/jobs/{job['id']}").json()
                    if state["state"] not in ("queued", "running"):
                        result.update(state)
                        job_done.set()
                        return
                    time.sleep(0.5)

            watcher = threading.Thread(target=watch)
            watcher.start()
            busy = reads(url, seeds, args.clients, job_done, args.max_seconds)
            watcher.join()
            seconds = time.monotonic() - started
            load_busy = load_text()
    finally:
        api.terminate()
        api.wait(60)
        log.close()
    i50, i95, i99 = quantiles(idle)
    b50, b95, b99 = quantiles(busy)
    print(f"job: {result.get('state')} {result.get('counts')} in {seconds:.1f} s")
    print(
        f"idle: {len(idle)} reads, p50 {i50:.1f} ms, p95 {i95:.1f} ms, p99 {i99:.1f} ms "
        f"({load_idle})"
    )
    print(
        f"during the index job: {len(busy)} reads, p50 {b50:.1f} ms, p95 {b95:.1f} ms, "
        f"p99 {b99:.1f} ms ({load_busy})"
    )
    print(f"ratio during/idle: p50 {b50 / i50:.2f}x, p99 {b99 / i99:.2f}x")


if __name__ == "__main__":
    main()
