"""The web app's client types are generated from web/openapi.json: it must be the schema the
app really publishes, or the typed client lies about the API."""

from __future__ import annotations

from scripts.export_openapi import SNAPSHOT, current_schema


def test_the_web_snapshot_is_the_apps_schema() -> None:
    assert SNAPSHOT.read_text(encoding="utf-8") == current_schema(), (
        "web/openapi.json is stale: run `python scripts/export_openapi.py`"
    )
