"""The learned ranker against every signal it combines, as one step of an evaluation run.

Indexes the TidyTuesday playlist catalog (the same catalog, split and lyrics encoder as the
playlist protocol of docs/evaluation.md, so the numbers compare), then runs
`evaluation.ranker_protocol` on the standard and warm-only protocols. Returns the Markdown
report (docs/ranker-evaluation.md) and its numbers (protocol → method → metric →
[mean, low, high], merged into docs/evaluation.json as "learned ranker: <protocol>").
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import pandas as pd

from core.interactions.files import tidytuesday_interactions
from core.recommend.user_tracks import UserTrackMatrix
from evaluation.datasets import (
    TIDYTUESDAY,
    billboard_songs,
    playlist_catalog,
    write_kaggle_csv,
)
from evaluation.indexing import lyrics_encoders
from evaluation.ranker_protocol import (
    cooccurrence_cost,
    indexed_store,
    protocols,
    run_baselines,
    run_protocol,
    summary,
)
from evaluation.report.ranker import baselines_report, report
from evaluation.splits import continuation_split
from indexer.catalog import read_catalog

Numbers = dict[str, dict[str, dict[str, list[float]]]]


def evaluate_ranker(
    shared: Path,
    cache: Path,
    *,
    command: str,
    seed: int = 7,
    threads: int = 1,
    bootstrap: int = 2000,
    store_dir: Path | None = None,
    log: Callable[[str], None] = print,
) -> tuple[str, Numbers]:
    csv = shared / TIDYTUESDAY
    tidy = pd.read_csv(csv, dtype={"track_id": str})
    rows = tidytuesday_interactions(csv)
    split = continuation_split(rows, seed)
    lyrics = billboard_songs(shared).set_index("track_id")["lyrics"].to_dict()
    encoders = list(lyrics_encoders(cache))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_kaggle_csv(
            playlist_catalog(tidy, cast("dict[str, str]", lyrics)), Path(tmp) / "playlists.csv"
        )
        catalog = [t for batch in read_catalog(path, schema="kaggle") for t in batch]
        log(f"learned ranker: catalog {len(catalog)} tracks; indexing …")
        with indexed_store(path, encoders, store_dir) as store:
            for protocol in protocols(rows, split, catalog):
                log(f"learned ranker, {protocol.name}: {len(protocol.hidden)} playlists")
                results.append(run_protocol(protocol, store, seed=seed, threads=threads, log=log))
    numbers = summary(results, bootstrap, seed)
    cost = cooccurrence_cost(UserTrackMatrix.from_pairs(split[0]), sorted(split[1]), seed)
    text = report(results, numbers, command) + f"\nCo-occurrence cost: {cost}\n"
    return text, numbers


def evaluate_baselines(
    shared: Path,
    *,
    command: str,
    seed: int = 7,
    threads: int = 1,
    bootstrap: int = 2000,
    log: Callable[[str], None] = print,
) -> tuple[str, Numbers]:
    """The strong baselines alone on both protocols (the same split and catalog as
    `evaluate_ranker`, no index, no product): minutes instead of the full run's hour."""
    csv = shared / TIDYTUESDAY
    tidy = pd.read_csv(csv, dtype={"track_id": str})
    rows = tidytuesday_interactions(csv)
    split = continuation_split(rows, seed)
    lyrics = billboard_songs(shared).set_index("track_id")["lyrics"].to_dict()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_kaggle_csv(
            playlist_catalog(tidy, cast("dict[str, str]", lyrics)), Path(tmp) / "playlists.csv"
        )
        catalog = [t for batch in read_catalog(path, schema="kaggle") for t in batch]
    results = [
        run_baselines(protocol, seed=seed, threads=threads, log=log)
        for protocol in protocols(rows, split, catalog)
    ]
    numbers = summary(results, bootstrap, seed)
    intro = (
        f"Produced by `{command}`: the strong collaborative baselines alone, on the split and "
        "catalog of docs/ranker-evaluation.md (same seed), each tuned on a validation split "
        "of the training side. The full run (`python scripts/eval_ranker.py`) puts them "
        "beside the product. Intervals: 95% bootstrap over playlists."
    )
    return baselines_report(results, numbers, "Strong baselines: TidyTuesday", intro), numbers
