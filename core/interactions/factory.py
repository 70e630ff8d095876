"""Settings → the interaction store, ready to use (schema current, legacy CSV imported), and
the training frame `musicrec train` reads from it."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import make_url

from core.interactions.files import InteractionStats
from core.interactions.importer import import_legacy_csv
from core.interactions.store import SqlInteractionStore
from schemas.settings import Settings


def open_interaction_store(settings: Settings, *, migrate: bool = True) -> SqlInteractionStore:
    """Open the configured database; with `migrate` (the API, `musicrec db upgrade`, train) an
    older schema is upgraded and the pre-database interactions CSV imported once."""
    assert settings.database_url is not None
    store = SqlInteractionStore.open(
        settings.database_url,
        busy_timeout=settings.database_busy_timeout,
        connect_timeout=settings.database_connect_timeout,
        migrate=migrate,
    )
    if migrate:
        try:
            import_legacy_csv(store, settings.interactions_path)
        except BaseException:
            store.close()
            raise
    return store


def _nothing_recorded(settings: Settings) -> bool:
    """No SQLite file and no legacy CSV: training need not create an empty database."""
    assert settings.database_url is not None
    url = make_url(settings.database_url)
    legacy = settings.interactions_path
    return (
        url.get_backend_name() == "sqlite"
        and url.database is not None
        and not Path(url.database).exists()
        and not (legacy is not None and legacy.exists())
    )


def training_interactions(
    settings: Settings,
    *,
    known_track_ids: Collection[str] | None = None,
    stats: InteractionStats | None = None,
) -> pd.DataFrame:
    """Every recorded interaction, for training; tracks outside the catalog are counted in
    `stats` (as `read_interactions` does for files) and left out."""
    stats = stats if stats is not None else InteractionStats()
    if _nothing_recorded(settings):
        return pd.DataFrame({"user_id": [], "track_id": [], "weight": []}).astype(
            {"user_id": "string", "track_id": "string", "weight": "float32"}
        )
    store = open_interaction_store(settings)
    try:
        frame = store.training_frame()
    finally:
        store.close()
    stats.rows += len(frame)
    if known_track_ids is not None:
        unknown = ~frame["track_id"].isin(set(known_track_ids))
        if unknown.any():
            stats.unknown_track_ids.update(frame["track_id"][unknown])
            stats.rejected["unknown track id"] += int(unknown.sum())
            frame = frame[~unknown].reset_index(drop=True)
    stats.accepted += len(frame)
    return frame
