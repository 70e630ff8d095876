"""`musicrec train`: catalog + interactions → a new published LightFM artefact."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.collab.model import LATEST, train


def train_main(argv: Sequence[str] | None = None) -> int:
    """`musicrec train`: catalog + interactions → a new published artefact.

    The events the API recorded (`interactions_path`) are always added to the given files,
    so what users did since the last run feeds the next model.
    """
    import pandas as pd

    from core.interactions.files import InteractionIssue, InteractionStats, read_interactions
    from indexer.catalog import CatalogStats, read_catalog
    from schemas.settings import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(prog="musicrec train", description=train_main.__doc__)
    parser.add_argument(
        "--interactions", type=Path, action="append", default=[], help="CSV or parquet; repeat"
    )
    parser.add_argument("--catalog", type=Path, required=True, help="catalog CSV")
    parser.add_argument("--schema", default="auto", help="catalog schema (default: auto)")
    parser.add_argument("--out", type=Path, default=settings.model_dir, help="model directory")
    parser.add_argument(
        "--loss", default=settings.lightfm_loss, choices=["warp", "bpr", "logistic"]
    )
    parser.add_argument("--epochs", type=int, default=settings.lightfm_epochs)
    parser.add_argument("--components", type=int, default=settings.lightfm_components)
    parser.add_argument("--lr", type=float, default=settings.lightfm_learning_rate)
    parser.add_argument("--item-alpha", type=float, default=settings.lightfm_item_alpha)
    parser.add_argument("--threads", type=int, default=settings.lightfm_threads)
    parser.add_argument("--seed", type=int, default=settings.lightfm_seed)
    args = parser.parse_args(argv)
    sources = list(args.interactions)
    recorded = settings.interactions_path
    if recorded is not None and recorded.exists() and recorded not in sources:
        sources.append(recorded)
    if not sources:
        parser.error(f"no interactions: pass --interactions FILE (nothing recorded at {recorded})")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    catalog_stats = CatalogStats()
    log(f"reading catalog {args.catalog} …")
    tracks = [
        t.model_copy(update={"lyrics": None})
        for batch in read_catalog(args.catalog, schema=args.schema, stats=catalog_stats)
        for t in batch
    ]
    log(f"  {catalog_stats.summary()}")
    shown = 0

    def on_issue(issue: InteractionIssue) -> None:
        nonlocal shown
        if shown < 20:
            log(f"  skipped {issue.location}: {issue.reason}")
        shown += 1

    frames = []
    known = {t.id for t in tracks}
    for source in sources:
        stats = InteractionStats()
        log(f"reading interactions {source} …")
        frames.append(
            read_interactions(source, known_track_ids=known, on_issue=on_issue, stats=stats)
        )
        log(f"  {stats.summary()}")
    interactions = pd.concat(frames, ignore_index=True)
    model = train(
        interactions,
        tracks,
        loss=args.loss,
        no_components=args.components,
        epochs=args.epochs,
        learning_rate=args.lr,
        item_alpha=args.item_alpha,
        num_threads=args.threads,
        seed=args.seed,
        on_epoch=lambda e, s: log(f"  epoch {e}/{args.epochs} ({s:.1f} s)"),
    )
    path = model.save(args.out)
    counts = model.metadata["counts"]
    print(
        f"trained {args.loss}: {counts['users']} users, {counts['items']} items "
        f"({counts['warm_items']} with interactions), {counts['interactions']} interactions, "
        f"{counts['features']} features in {model.metadata['train_seconds']:.1f} s\n"
        f"artefact {path} ({path.stat().st_size / 1e6:.2f} MB), published as {args.out / LATEST}"
    )
    return 0
