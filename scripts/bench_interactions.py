"""Interactions under load and under a crash, on SQLite and on PostgreSQL; API start-up time
with many stored events.

    python scripts/bench_interactions.py load --db sqlite --writers 20 --seconds 30
    python scripts/bench_interactions.py load --db postgresql --writers 20 --seconds 30
    python scripts/bench_interactions.py startup --db sqlite --events 1000000

`load`: an API process (`python -m api`, its own interpreter) on a fresh data dir with a
300-track catalog; `--writers` threads each POST requests of 5 events with unique event ids
for `--seconds`, then the API is SIGKILLed while they are still sending. Checked afterwards
in the database itself: every acknowledged (201) event is stored exactly once; every
unacknowledged request is stored whole or not at all; after a restart, re-sending every
request (acknowledged or not, same event ids) stores each event exactly once. Prints write
latency p50/p99 of the acknowledged requests.

`startup`: time from spawning the API to its first 200 on /health, with an empty database
and with `--events` stored events (median of `--repeats` runs each).

PostgreSQL is a throwaway cluster from Debian's binaries (tests/fixtures/postgres.py), fsync on.
Loopback only; every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from core.interactions.factory import open_interaction_store  # noqa: E402
from core.interactions.store import Interaction, SqlInteractionStore  # noqa: E402
from core.interactions.tables import interactions  # noqa: E402
from core.store.edge import EdgeStore  # noqa: E402
from indexer.pipeline import Indexer  # noqa: E402
from schemas.settings import load_settings  # noqa: E402
from tests.conftest import demo_rows, free_port  # noqa: E402
from tests.fixtures.postgres import PostgresCluster, missing_reason  # noqa: E402

KEY = "bench-interactions-key"
EVENTS_PER_REQUEST = 5
CATALOG_TRACKS = 300


def prepare_data_dir(root: Path) -> list[str]:
    """A data dir whose embedded collection holds CATALOG_TRACKS demo tracks (payload only:
    POST /interactions only checks that the track ids exist)."""
    header, rows = demo_rows()
    rows = rows[:CATALOG_TRACKS]
    catalog = root / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    store = EdgeStore(root / "qdrant", "tracks")
    Indexer(store, [], batch_size=100, progress=False).run(catalog)
    store.close()
    return [r["id"] for r in rows]


@contextmanager
def database(kind: str, root: Path) -> Iterator[str]:
    if kind == "sqlite":
        root.mkdir(exist_ok=True)
        yield f"sqlite:///{root}/musicrec.db"
        return
    reason = missing_reason()
    if reason:
        raise SystemExit(f"cannot run PostgreSQL: {reason}")
    cluster = PostgresCluster().start()
    try:
        yield cluster.new_database()
    finally:
        cluster.stop()


class Api:
    def __init__(self, data_dir: Path, url: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MUSICREC_DATA_DIR": str(data_dir),
            "MUSICREC_DATABASE_URL": url,
            "MUSICREC_API_KEY": KEY,
            "MUSICREC_API_PORT": str(self.port),
        }
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api"],
            env=env,
            cwd=data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait(self, timeout: float = 180) -> float:
        """Seconds from spawn to the first 200 on /health."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"the API exited with {self.proc.returncode}")
                try:
                    if client.get(f"{self.url}/health").status_code == 200:
                        return time.perf_counter() - self.started
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise SystemExit("the API did not start in time")

    def wait_and_stop(self) -> float:
        try:
            return self.wait()
        finally:
            self.stop()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def request_body(writer: int, seq: int, tracks: list[str], rng: random.Random) -> dict:
    return {
        "events": [
            {
                "user_id": f"w{writer}-u{seq % 20}",
                "track_id": rng.choice(tracks),
                "event_id": f"{writer}-{seq}-{j}",
            }
            for j in range(EVENTS_PER_REQUEST)
        ]
    }


def load(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="musicrec-bench-") as tmp:
        root = Path(tmp)
        tracks = prepare_data_dir(root)
        with database(args.db, root) as url:
            api = Api(root, url)
            api.wait()
            acked: list[dict] = []
            unacked: list[dict] = []
            latencies: list[float] = []
            statuses: collections.Counter[str] = collections.Counter()
            lock = threading.Lock()
            stop = threading.Event()

            def write(writer: int) -> None:
                rng = random.Random(writer)
                headers = {"X-API-Key": KEY}
                with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
                    seq = 0
                    while not stop.is_set():
                        body = request_body(writer, seq, tracks, rng)
                        seq += 1
                        start = time.perf_counter()
                        try:
                            response = client.post("/interactions", json=body)
                            ok, status = response.status_code == 201, str(response.status_code)
                        except httpx.TransportError as exc:
                            ok, status = False, type(exc).__name__
                        elapsed = time.perf_counter() - start
                        with lock:
                            statuses[status] += 1
                            (acked if ok else unacked).append(body)
                            if ok:
                                latencies.append(elapsed * 1000)
                        if not ok and api.proc.poll() is not None:
                            return

            threads = [threading.Thread(target=write, args=(w,)) for w in range(args.writers)]
            for t in threads:
                t.start()
            time.sleep(args.seconds)
            api.kill()  # mid-burst: every writer has a request in flight or about to be
            for t in threads:
                t.join(timeout=60)
            stop.set()
            print(f"{args.db}: answers {dict(statuses.most_common())}")
            report_load(args, url, acked, unacked, latencies)
            retry_all(root, url, acked, unacked)


def stored_event_ids(url: str) -> dict[tuple[str, str], int]:
    store = SqlInteractionStore.open(url, migrate=False)
    query = select(interactions.c.user_id, interactions.c.event_id, func.count()).group_by(
        interactions.c.user_id, interactions.c.event_id
    )
    with store.engine.connect() as conn:
        counts = {(u, e): int(n) for u, e, n in conn.execute(query)}
    store.close()
    return counts


def keys(body: dict) -> list[tuple[str, str]]:
    return [(e["user_id"], e["event_id"]) for e in body["events"]]


def report_load(args, url: str, acked: list, unacked: list, latencies: list[float]) -> None:
    counts = stored_event_ids(url)
    lost = sum(counts.get(k, 0) == 0 for b in acked for k in keys(b))
    doubled = sum(n > 1 for n in counts.values())
    partial = sum(
        0 < sum(counts.get(k, 0) > 0 for k in keys(b)) < EVENTS_PER_REQUEST for b in unacked
    )
    landed = sum(all(counts.get(k, 0) for k in keys(b)) for b in unacked)
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"{args.db}: {args.writers} writers x {args.seconds} s, then SIGKILL: "
        f"{len(acked)} requests acknowledged ({len(acked) * EVENTS_PER_REQUEST} events, "
        f"{len(acked) / args.seconds:.0f} req/s); write latency p50 {q[49]:.1f} ms, "
        f"p99 {q[98]:.1f} ms"
    )
    print(
        f"  after the kill: acknowledged events missing {lost}, stored twice {doubled}; "
        f"{len(unacked)} unacknowledged requests: {landed} stored whole (committed, reply "
        f"lost), {partial} half-written"
    )


def retry_all(root: Path, url: str, acked: list, unacked: list) -> None:
    api = Api(root, url)
    api.wait()
    with (
        httpx.Client(base_url=api.url, headers={"X-API-Key": KEY}, timeout=60) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        results = list(
            pool.map(lambda b: client.post("/interactions", json=b).json(), [*acked, *unacked])
        )
    api.stop()
    added = sum(r["recorded"] for r in results)
    dupes = sum(r["duplicates"] for r in results)
    counts = stored_event_ids(url)
    everything = [k for b in [*acked, *unacked] for k in keys(b)]
    exact = all(counts.get(k) == 1 for k in everything)
    print(
        f"  restart + every request re-sent: {added} events added (the never-stored ones), "
        f"{dupes} recognised as duplicates; every event stored exactly once: {exact}"
    )


def startup(args: argparse.Namespace) -> None:
    """Alternating runs on an empty and a filled database, so a change in the machine's load
    during the measurement hits both alike."""
    with tempfile.TemporaryDirectory(prefix="musicrec-bench-") as tmp:
        root = Path(tmp)
        tracks = prepare_data_dir(root)
        with database(args.db, root) as full_url, database(args.db, root / "empty") as empty_url:
            fill(full_url, tracks, args.events)
            SqlInteractionStore.open(empty_url).close()
            opened = {"empty": [], "full": []}
            empty, full = [], []
            for _ in range(args.repeats):
                opened["empty"].append(time_open(root, empty_url))
                opened["full"].append(time_open(root, full_url))
                empty.append(Api(root, empty_url).wait_and_stop())
                full.append(Api(root, full_url).wait_and_stop())
    print(
        f"{args.db}: the database's share of start-up (open + schema check + legacy-CSV "
        f"check, as the API's lifespan does), median: empty "
        f"{statistics.median(opened['empty']) * 1000:.1f} ms, {args.events:,} events "
        f"{statistics.median(opened['full']) * 1000:.1f} ms"
    )
    print(
        f"{args.db}: API start-up (spawn to first /health 200), median of {args.repeats} "
        f"alternating runs: empty database {statistics.median(empty):.2f} s, "
        f"{args.events:,} events {statistics.median(full):.2f} s "
        f"(runs: {[round(s, 2) for s in empty]} vs {[round(s, 2) for s in full]})"
    )


def time_open(root: Path, url: str) -> float:
    """Seconds for what the API's lifespan does with the database, plus a first history read
    (the pool's first connection)."""
    settings = load_settings(database_url=url, data_dir=root)
    start = time.perf_counter()
    store = open_interaction_store(settings)
    store.recent("u1")
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def fill(url: str, tracks: list[str], n: int) -> None:
    store = SqlInteractionStore.open(url)
    rng = random.Random(0)
    start = time.perf_counter()
    for offset in range(0, n, 20_000):
        store.record(
            Interaction(f"u{rng.randrange(50_000)}", rng.choice(tracks), event_id=str(i))
            for i in range(offset, min(n, offset + 20_000))
        )
    print(f"stored {store.count_events():,} events in {time.perf_counter() - start:.0f} s")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load")
    p_load.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p_load.add_argument("--writers", type=int, default=20)
    p_load.add_argument("--seconds", type=float, default=30)
    p_start = sub.add_parser("startup")
    p_start.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    p_start.add_argument("--events", type=int, default=1_000_000)
    p_start.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load(args) if args.command == "load" else startup(args)


if __name__ == "__main__":
    main()
