"""The HTTP rows: `python -m api` as a separate process, measured from outside."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench import COLLECTION, ROOT
from bench.corpus import Real
from bench.machine import MemoryLimit, proc_status_mb, rss_by_mapping, rss_mb
from bench.rows import Row
from bench.truth import timed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_rows(
    directory: Path, size: int, real: Real, args: argparse.Namespace
) -> tuple[list[Row], dict[str, float]]:
    """`python -m api` on the collection, as a user runs it; its RSS before and after load."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MUSICREC_DATA_DIR": str(directory / "api-data"),
        "MUSICREC_QDRANT_PATH": str(directory / "qdrant"),
        "MUSICREC_COLLECTION": COLLECTION,
        "MUSICREC_API_PORT": str(port),
        "MUSICREC_HNSW_EF": str(args.ef[0]),
        "MUSICREC_EXACT_SEARCH_BELOW": str(args.exact_search_below),
        "MUSICREC_QUANTIZATION": args.quantization,
    }
    log = (directory / "api.log").open("w")
    limit = MemoryLimit(args.memory_limit_mb) if args.memory_limit_mb else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "api"],
        env=env,
        cwd=directory,
        stdout=log,
        stderr=log,
        preexec_fn=limit.enter if limit else None,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API did not start: {(directory / 'api.log').read_text()}")
            time.sleep(0.2)
        idle = rss_mb(proc.pid)[0]
        idle_mappings = rss_by_mapping(proc.pid)
        rng = np.random.default_rng(args.seed + 3)
        pool = [p["track_id"] for p in real.payloads[: len(real.lyrics)]]
        bodies = [
            {"positive": [str(t) for t in rng.choice(pool, args.seeds, replace=False)], "limit": 10}
            for _ in range(args.requests)
        ]

        def call(body: dict[str, Any]) -> None:
            client.post("/recommendations", json=body).raise_for_status()

        for body in bodies[:20]:
            call(body)
        rows = [Row("POST /recommendations, 1 client", *timed(call, bodies)[:2])]
        for clients in args.concurrency:
            ms, qps, _ = timed(call, bodies, clients)
            rows.append(Row(f"POST /recommendations, {clients} clients", ms, qps))
        current, peak = rss_mb(proc.pid)
        # File-backed pages (mapped vector files) are clean and reclaimable; anonymous ones
        # (models, quantized vectors, graphs) are what the process really needs.
        anon, mapped = proc_status_mb(proc.pid, "RssAnon", "RssFile")
        print(f"API RSS by mapping (MiB), after start-up: {idle_mappings}")
        print(f"API RSS by mapping (MiB), after the requests: {rss_by_mapping(proc.pid)}")
        limited = limit.stats() if limit else {}
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
        if limit:
            limit.remove()
    return rows, {
        **limited,
        "api_rss_idle_mb": idle,
        "api_rss_mb": current,
        "api_peak_rss_mb": peak,
        "api_rss_anon_mb": anon,
        "api_rss_file_mb": mapped,
    }
