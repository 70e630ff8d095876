"""`musicrec db upgrade|status`, `musicrec interactions import FILE`, `musicrec stats`: the
interaction database from the command line (MUSICREC_DATABASE_URL)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from schemas.settings import Settings, load_settings

db_app = typer.Typer(help="The interaction database: schema migrations.", no_args_is_help=True)
interactions_app = typer.Typer(help="Interaction logs into the database.", no_args_is_help=True)
SHOWN_ISSUES = 20


@db_app.command("upgrade")
def upgrade() -> int:
    """Migrate the schema to this version's newest (and import a pre-database
    interactions CSV once)."""
    from core.interactions.database import upgrade as migrate
    from core.interactions.factory import open_interaction_store

    settings = load_settings()
    assert settings.database_url is not None
    store = open_interaction_store(settings, migrate=False)
    try:
        before, after = migrate(store.engine)
    finally:
        store.close()
    open_interaction_store(settings).close()  # the legacy CSV import, once
    moved = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    print(f"database {_shown(settings.database_url)}: {moved} revision {after}")
    return 0


@db_app.command("status")
def status() -> int:
    """Schema revision in the database and in this code; events and users stored."""
    from core.interactions.database import check_revision, current_revision, head_revision
    from core.interactions.factory import open_interaction_store

    settings = load_settings()
    assert settings.database_url is not None
    store = open_interaction_store(settings, migrate=False)
    try:
        current = current_revision(store.engine)
        behind = check_revision(current)
        print(
            f"database {_shown(settings.database_url)}: revision {current or 'empty'}, code at "
            f"{head_revision()}" + (" (run `musicrec db upgrade`)" if behind else "")
        )
        if not behind:
            print(f"{store.count_events()} events from {store.count_users()} users")
    finally:
        store.close()
    return 0


@interactions_app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="CSV or parquet logs", exists=True)],
) -> int:
    """Add interaction logs (user_id, track_id[, weight, timestamp]) to the database.

    Bad rows are skipped and reported with their line; re-importing a file adds only lines
    that were not imported before."""
    import_into_database(load_settings(), files)
    return 0


def import_into_database(settings: Settings, files: Sequence[Path]) -> None:
    """`musicrec interactions import`, also run by `musicrec train` before it hands the
    training to the API that owns the shard (the job reads the database)."""
    from core.interactions.factory import open_interaction_store
    from core.interactions.files import InteractionIssue, InteractionStats
    from core.interactions.importer import import_file

    store = open_interaction_store(settings)
    try:
        for path in files:
            stats = InteractionStats()
            issues: list[InteractionIssue] = []
            result = import_file(store, path, on_issue=issues.append, stats=stats)
            for issue in issues[:SHOWN_ISSUES]:
                print(f"  skipped {path}:{issue.location}: {issue.reason}", file=sys.stderr)
            print(
                f"{path}: {stats.summary()}; {result.recorded} stored, "
                f"{result.duplicates} already stored"
            )
    finally:
        store.close()


def stats_command(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days back to report.")] = 30,
) -> int:
    """Online evaluation per day and model version: requests served, users, hit rate@10
    (an interaction with a top-10 served track within MUSICREC_HIT_WINDOW_DAYS), coverage."""
    from core.interactions.factory import open_interaction_store
    from core.interactions.online import online_stats
    from core.store import StoreError, open_store

    settings = load_settings()
    catalog_size = None
    try:
        vectors = open_store(settings)
        try:
            catalog_size = vectors.count() if vectors.exists() else None
        finally:
            vectors.close()
    except StoreError as exc:  # e.g. the API holds the embedded shard: coverage unknown
        print(f"catalog size unknown ({exc}): coverage not shown", file=sys.stderr)
    store = open_interaction_store(settings)
    try:
        since = datetime.now(UTC) - timedelta(days=days)
        rows = online_stats(
            store, window_days=settings.hit_window_days, since=since, catalog_size=catalog_size
        )
    finally:
        store.close()
    print(
        f"{'day':<10}  {'model':<32}  {'requests':>8}  {'users':>6}  {'hit@10':>6}  {'coverage':>8}"
    )
    for r in rows:
        coverage = f"{r.coverage:.1%}" if r.coverage is not None else "-"
        print(
            f"{r.day:<10}  {r.model_version[:32]:<32}  {r.requests:>8}  {r.users:>6}  "
            f"{r.hit_rate:>6.1%}  {coverage:>8}"
        )
    if not rows:
        print(f"no personalised recommendations served in the last {days} days")
    return 0


def _shown(url: str) -> str:
    """The URL without its password, fit for a terminal or a log."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
