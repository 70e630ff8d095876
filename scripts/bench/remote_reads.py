"""Timed `GET /users/{id}/recommendations` from a process of its own.

scripts/bench_api.py serves the API from a thread of its own process; a client in that
process waits for the same GIL as the server, which the other rows can ignore (the server is
idle between their requests) but not a row timed while the API's background computes. So
that row's client runs here, as a remote client would:

    python scripts/bench/remote_reads.py --url http://127.0.0.1:PORT --count 300 u1 u2 …

The API key comes from MUSICREC_BENCH_KEY; the milliseconds of each request, in order, are
printed as one JSON list.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("users", nargs="+")
    args = parser.parse_args()
    headers = {"X-API-Key": os.environ["MUSICREC_BENCH_KEY"]}
    ms: list[float] = []
    with httpx.Client(base_url=args.url, timeout=30, headers=headers) as client:
        for i in range(args.count):
            started = time.perf_counter()
            response = client.get(f"/users/{args.users[i % len(args.users)]}/recommendations")
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            assert response.json()["personalization"]["ranker"] == "learned"
            ms.append(elapsed)
    print(json.dumps(ms))


if __name__ == "__main__":
    main()
