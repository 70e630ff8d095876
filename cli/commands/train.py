"""`musicrec train`: catalog + interactions → a new published LightFM artefact, then the
learned ranker beside it."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.commands.db import import_into_database
from cli.submit import find_owner, submit_train
from schemas.settings import Settings, load_settings


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_command(
    catalog: Annotated[
        Path | None,
        typer.Option(
            help="catalog CSV (not needed when an API owns the shard: it trains on "
            "the indexed collection)"
        ),
    ] = None,
    interactions: Annotated[
        list[Path] | None, typer.Option(help="CSV or parquet interaction log; repeat")
    ] = None,
    schema: Annotated[str, typer.Option(help="catalog schema")] = "auto",
    out: Annotated[Path | None, typer.Option(help="model directory")] = None,
    loss: Annotated[Literal["warp", "bpr", "logistic"] | None, typer.Option()] = None,
    epochs: Annotated[int | None, typer.Option(min=1)] = None,
    components: Annotated[int | None, typer.Option(min=1, max=512)] = None,
    lr: Annotated[float | None, typer.Option(min=0, max=1)] = None,
    item_alpha: Annotated[float | None, typer.Option(min=0)] = None,
    threads: Annotated[int | None, typer.Option(min=1, max=64)] = None,
    seed: Annotated[int | None, typer.Option()] = None,
) -> int:
    """Train the LightFM model and publish it (the API picks it up without a restart).

    The events in the interaction database (MUSICREC_DATABASE_URL) are always added to the
    given files, so what users did since the last run feeds the next model. Unset options take
    their MUSICREC_LIGHTFM_* settings.

    On an embedded data dir whose shard a running API owns, the job is submitted to that API
    (the collection's tracks, the database's events; `--interactions` files are imported into
    the database first, idempotently) and its progress shown here.
    """
    settings = load_settings()
    owner = find_owner(settings)
    if owner is not None:
        if catalog is not None:
            _log(f"--catalog {catalog} not read: the API trains on its indexed collection")
        if interactions:
            import_into_database(settings, interactions)
        return submit_train(settings, owner, show_progress=True)
    if catalog is None:
        return train_on_indexed_collection(settings, interactions or [])
    updates = {
        "lightfm_loss": loss,
        "lightfm_epochs": epochs,
        "lightfm_components": components,
        "lightfm_learning_rate": lr,
        "lightfm_item_alpha": item_alpha,
        "lightfm_threads": threads,
        "lightfm_seed": seed,
    }
    settings = settings.model_copy(update={k: v for k, v in updates.items() if v is not None})
    return run_training(settings, catalog, interactions or [], schema, out or settings.model_dir)


def train_on_indexed_collection(settings: Settings, interactions: Sequence[Path]) -> int:
    """Without --catalog: the indexed collection is the catalog (a Qdrant server, or the
    embedded shard no API owns), the database the events (`--interactions` imported first)."""
    from core.store import open_store
    from jobs.train import train_on_collection

    if interactions:
        import_into_database(settings, interactions)
    store = open_store(settings)
    try:
        published = train_on_collection(settings, store, _log)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--catalog") from None
    finally:
        store.close()
    print("published " + ", ".join(f"{k} {v}" for k, v in published.versions().items()))
    return 0


def run_training(
    settings: Settings, catalog: Path, interactions: Sequence[Path], schema: str, out: Path | None
) -> int:
    import pandas as pd

    from core.interactions.factory import training_interactions
    from core.interactions.files import InteractionIssue, InteractionStats, read_interactions
    from indexer.catalog import CatalogStats, read_catalog

    assert out is not None
    sources = list(interactions)
    catalog_stats = CatalogStats()
    _log(f"reading catalog {catalog} …")
    tracks = [
        t.model_copy(update={"lyrics": None})
        for batch in read_catalog(catalog, schema=schema, stats=catalog_stats)
        for t in batch
    ]
    _log(f"  {catalog_stats.summary()}")
    shown = 0

    def on_issue(issue: InteractionIssue) -> None:
        nonlocal shown
        if shown < 20:
            _log(f"  skipped {issue.location}: {issue.reason}")
        shown += 1

    frames = []
    known = {t.id for t in tracks}
    for source in sources:
        stats = InteractionStats()
        _log(f"reading interactions {source} …")
        frames.append(
            read_interactions(source, known_track_ids=known, on_issue=on_issue, stats=stats)
        )
        _log(f"  {stats.summary()}")
    stats = InteractionStats()
    _log("reading the interactions recorded in the database …")
    frames.append(training_interactions(settings, known_track_ids=known, stats=stats))
    _log(f"  {stats.summary()}")
    if not sum(map(len, frames)):
        raise typer.BadParameter(
            "no interactions: pass --interactions FILE, or record some (POST /interactions, "
            "`musicrec interactions import FILE`)",
            param_hint="--interactions",
        )
    from jobs.train import fit_and_publish

    return fit_and_publish(settings, tracks, pd.concat(frames, ignore_index=True), out, _log)
