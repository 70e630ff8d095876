"""Indexing throughput next to the raw lyrics-encoder throughput on the same texts.

    python scripts/bench_indexing.py --tracks 600 --repeat 2
    python scripts/bench_indexing.py --tracks 600 --repeat 2 --lyrics-runtime onnx-int8

Encoding lyrics dominates indexing; the ratio says how much the rest of the pipeline costs on
top of it. The pipeline runs with the product's encoder set (MiniLM lyrics, BM25 terms, audio;
the demo catalog has no cover URLs, so the cover encoder gets nothing to do) and the default
batch size, into a fresh embedded collection each time. The raw figure is one `encode` call
over all the texts (sentence-transformers sorts them by length: the best case for padding).
Raw and pipeline runs alternate and the best of each is kept, because the machine may be
shared: the best run is the one least disturbed.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path
from typing import get_args

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.encoders.lyrics import LyricsEncoder
from core.store.edge import EdgeStore
from indexer.catalog import read_catalog
from indexer.pipeline import Indexer, build_index_encoders
from schemas.settings import LyricsRuntime, Settings

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", type=Path, default=ROOT / "data/demo/tracks.csv")
    parser.add_argument("--tracks", type=int, default=600, help="tracks with lyrics to use")
    parser.add_argument("--batch-size", type=int, default=defaults.index_batch_size)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--lyrics-runtime", choices=get_args(LyricsRuntime), default=defaults.lyrics_runtime
    )
    args = parser.parse_args()
    settings = defaults.model_copy(update={"lyrics_runtime": args.lyrics_runtime})

    with args.catalog.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = [r for r in reader if r["lyrics"].strip()][: args.tracks]
    encoders = build_index_encoders(settings)
    lyrics_encoder = encoders[0]
    assert isinstance(lyrics_encoder, LyricsEncoder)
    raw, pipeline = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        lyrics = [t.lyrics for batch in read_catalog(path) for t in batch]
        lyrics_encoder.encode(lyrics[:8])  # warm-up
        for run in range(args.repeat):
            started = time.perf_counter()
            lyrics_encoder.encode(lyrics)
            raw.append(len(lyrics) / (time.perf_counter() - started))
            store = EdgeStore(Path(tmp) / f"qdrant-{run}", "bench")
            indexer = Indexer(store, encoders, batch_size=args.batch_size, progress=False)
            report = indexer.run(path)
            store.close()
            pipeline.append(report.indexed / report.seconds)
    print(
        f"tracks (all with lyrics): {len(rows)}; model {lyrics_encoder.encoder_id} "
        f"({lyrics_encoder.runtime}); "
        f"batch size {args.batch_size}; cores {os.cpu_count()}; "
        "load {:.2f} {:.2f} {:.2f} at the end".format(*os.getloadavg())
    )
    print("| stage | tracks/s (best) | all runs |\n|---|---|---|")
    print(f"| raw lyrics encoder | {max(raw):.1f} | {', '.join(f'{r:.1f}' for r in raw)} |")
    print(
        "| full indexing run (scaler fit, parse, hash check, lyrics + BM25 + audio, upsert) "
        f"| {max(pipeline):.1f} | {', '.join(f'{r:.1f}' for r in pipeline)} |"
    )
    print(f"pipeline / encoder = {max(pipeline) / max(raw):.0%}")


if __name__ == "__main__":
    main()
