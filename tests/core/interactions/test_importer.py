"""Logs into the database: `musicrec interactions import`, the one-time import of the API's
pre-database CSV, and the `musicrec db` / `stats` commands (SQLite, real files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.app import main as cli_main
from core.interactions.factory import open_interaction_store, training_interactions
from core.interactions.files import InteractionIssue, InteractionStats
from core.interactions.importer import import_file
from core.interactions.store import Interaction, ServedList, SqlInteractionStore
from tests.conftest import make_settings

LOG = (
    "user_id,track_id,weight,timestamp\n"
    "u1,t1,1,2024-01-01T00:00:00Z\n"
    "u1,t1,1,2024-01-01T00:00:00Z\n"  # the same listen twice: two events, both kept
    "u2,t2,abc,\n"
    '"u\x1cx",t3,1,\n'
    "u4,t4,1,yesterday\n"
    "u5,t5,2,\n"
)


@pytest.fixture
def store(tmp_path):
    store = SqlInteractionStore.open(f"sqlite:///{tmp_path}/m.db")
    yield store
    store.close()


def test_import_reports_bad_rows_by_line_and_never_doubles(store, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    issues: list[InteractionIssue] = []
    stats = InteractionStats()
    first = import_file(store, path, on_issue=issues.append, stats=stats)
    assert (first.recorded, first.duplicates) == (3, 0)
    assert sorted((i.line, i.reason.split(":")[0]) for i in issues) == [
        (4, "weight 'abc' is not a finite non-negative number"),
        (5, "user_id not storable"),
        (6, "unreadable timestamp"),
    ]
    assert stats.accepted == 3
    again = import_file(store, path)
    assert (again.recorded, again.duplicates) == (0, 3)
    with path.open("a", encoding="utf-8") as fh:
        fh.write("u6,t6,1,\n")
    grown = import_file(store, path)
    assert (grown.recorded, grown.duplicates) == (1, 3)
    frame = store.training_frame()
    assert frame["user_id"].tolist() == ["u1", "u1", "u5", "u6"]
    assert frame["weight"].tolist() == [1.0, 1.0, 2.0, 1.0]


def test_ids_the_api_would_refuse_are_skipped(store, tmp_path: Path) -> None:
    table = pa.table({"user_id": ["ok", "bad\x00nul", "x" * 129], "track_id": ["t1", "t2", "t3"]})
    pq.write_table(table, tmp_path / "log.parquet")
    issues: list[InteractionIssue] = []
    assert import_file(store, tmp_path / "log.parquet", on_issue=issues.append).recorded == 1
    assert [(i.location, i.reason.split(":")[0]) for i in issues] == [
        ("row 2", "user_id not storable"),
        ("row 3", "user_id too long"),
    ]


def test_the_pre_database_csv_is_imported_once(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert settings.interactions_path == tmp_path / "interactions.csv"
    assert settings.database_url == f"sqlite:///{tmp_path}/musicrec.db"
    settings.interactions_path.write_text(LOG, encoding="utf-8")
    for _ in range(2):
        open_interaction_store(settings).close()
    stats = InteractionStats()
    frame = training_interactions(settings, known_track_ids={"t1"}, stats=stats)
    assert frame["track_id"].tolist() == ["t1", "t1"]
    assert stats.rejected["unknown track id"] == 1
    store = open_interaction_store(settings)
    assert store.count_events() == 3
    store.close()


def test_an_empty_legacy_file_does_not_stop_anything(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.interactions_path.write_bytes(b"")  # left by a failed first write
    store = open_interaction_store(settings)
    assert store.count_events() == 0
    store.close()


def test_db_commands(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    assert cli_main(["db", "status"]) == 0
    assert "run `musicrec db upgrade`" in capsys.readouterr().out
    assert cli_main(["db", "upgrade"]) == 0
    assert "upgraded from empty to revision" in capsys.readouterr().out
    assert cli_main(["db", "upgrade"]) == 0
    assert "already at revision" in capsys.readouterr().out
    log = tmp_path / "log.csv"
    log.write_text(LOG, encoding="utf-8")
    assert cli_main(["interactions", "import", str(log)]) == 0
    captured = capsys.readouterr()
    assert "3 stored, 0 already stored" in captured.out
    assert "log.csv:line 4" in captured.err
    assert cli_main(["interactions", "import", str(log)]) == 0
    assert "0 stored, 3 already stored" in capsys.readouterr().out
    store = SqlInteractionStore.open(f"sqlite:///{tmp_path}/musicrec.db")
    store.log_served(ServedList("r1", "u5", ["t5", "t9"], model_version="lightfm-x"))
    store.record([Interaction("u5", "t9")])  # the listener played a served track
    store.close()
    assert cli_main(["stats"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "lightfm-x" in line)
    assert row.split()[2:5] == ["1", "1", "100.0%"]


def test_a_bad_database_url_names_the_variable(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MUSICREC_DATABASE_URL", "mysql://x")
    assert cli_main(["db", "status"]) == 2
    assert "MUSICREC_DATABASE_URL" in capsys.readouterr().err


def test_training_without_a_database_creates_none(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert training_interactions(settings).empty
    assert not (tmp_path / "musicrec.db").exists()
