"""One evaluation run: every protocol on the real data, then the report.

    from evaluation.run import run
    run(Params.build(shared, out, quick=True))

Deterministic for a given seed (LightFM single-threaded, exact search, points stored in the
indexer's order, ties ordered by id); only timings vary. MiniLM and cover embeddings are
cached under `params.cache`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import cast

from core.files import atomic_write
from evaluation.config import Params
from evaluation.datasets import TIDYTUESDAY, billboard_songs
from evaluation.indexing import lyrics_encoders
from evaluation.protocols.covers import covers
from evaluation.protocols.lyrics import same_artist
from evaluation.protocols.playlists import playlist_continuation
from evaluation.ranker_run import evaluate_ranker
from evaluation.report.markdown import dump_json, write_report
from evaluation.results import Results, progress


def measure_all(params: Params) -> Results:
    """Every protocol's per-query results (no report written)."""
    started = time.perf_counter()
    if not (params.shared / TIDYTUESDAY).is_file():
        raise FileNotFoundError(f"no {TIDYTUESDAY} under {params.shared}")
    encoders = lyrics_encoders(params.cache)
    progress(f"lyrics embedding cache: {len(encoders[0].memo)} vectors in {params.cache}")
    lyrics = same_artist(params, encoders)
    lyrics_by_id = billboard_songs(params.shared).set_index("track_id")["lyrics"].to_dict()
    playlists, warm, subset, calib = playlist_continuation(
        params, encoders, cast("dict[str, str]", lyrics_by_id)
    )
    cover = None if params.skip_covers else covers(params)
    seconds = time.perf_counter() - started
    return Results(lyrics, playlists, warm, subset, calib, cover, seconds)


def run(params: Params) -> Path:
    """Measure, then write docs/evaluation.md, its figures and docs/evaluation.json; then the
    learned ranker's protocol: docs/ranker-evaluation.md, its numbers merged into the JSON."""
    started = time.perf_counter()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    write_report(params, measure_all(params))
    progress(f"wrote {params.out} and {params.img}/*.png in {time.perf_counter() - started:.0f} s")
    if params.ranker:
        text, numbers = evaluate_ranker(
            params.shared,
            params.cache,
            command=params.command,
            seed=params.seed,
            threads=params.threads,
            bootstrap=params.bootstrap,
            log=progress,
        )
        atomic_write(params.ranker_out, text.encode("utf-8"))
        summary = json.loads(params.json_out.read_text(encoding="utf-8"))
        for protocol, methods in numbers.items():
            summary["results"][f"learned ranker: {protocol}"] = methods
        atomic_write(params.json_out, dump_json(summary).encode("utf-8"))
        progress(f"wrote {params.ranker_out} in {time.perf_counter() - started:.0f} s in all")
    return params.out
