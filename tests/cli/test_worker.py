"""`musicrec worker` refuses what it cannot do, saying what to do instead (the schedule and
the training lock themselves are tested in tests/jobs/)."""

from __future__ import annotations

from cli.app import main as cli_main


def test_worker_on_the_embedded_engine_points_to_the_api(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MUSICREC_QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_URL", raising=False)
    assert cli_main(["worker", "--once"]) == 1
    assert "the API that owns the shard runs the schedule" in capsys.readouterr().err


def test_worker_without_a_schedule_says_which_settings(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MUSICREC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MUSICREC_QDRANT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("MUSICREC_TRAIN_EVERY", raising=False)
    monkeypatch.delenv("MUSICREC_TRAIN_AFTER_EVENTS", raising=False)
    assert cli_main(["worker"]) == 2
    assert "MUSICREC_TRAIN_EVERY" in capsys.readouterr().err
