"""Versioned artefacts (core/artefacts.py): publish behind a pointer, prune per kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.artefacts import prune, publish, read_pointer


def test_publish_prunes_its_own_kind_and_never_the_current(tmp_path: Path) -> None:
    for i in range(4):
        publish(tmp_path, "ranker", ".npz", f"ranker {i}".encode(), "ranker-latest", keep=2)
        publish(tmp_path, "lightfm", ".npz", f"model {i}".encode(), "latest", keep=3)
    (tmp_path / "notes.txt").write_text("not an artefact")
    rankers = sorted(p.name for p in tmp_path.glob("ranker-*.npz"))
    models = sorted(p.name for p in tmp_path.glob("lightfm-*.npz"))
    assert len(rankers) == 2 and len(models) == 3
    assert read_pointer(tmp_path, "ranker-latest") == rankers[-1]
    assert (tmp_path / rankers[-1]).read_bytes() == b"ranker 3"
    assert read_pointer(tmp_path, "latest") == models[-1]
    assert (tmp_path / "notes.txt").exists()


def test_the_pointed_artefact_survives_even_when_older(tmp_path: Path) -> None:
    """A rollback points `ranker-latest` at an old artefact: pruning keeps it."""
    first, second, third = (
        publish(tmp_path, "ranker", ".npz", blob, "ranker-latest") for blob in (b"a", b"b", b"c")
    )
    (tmp_path / "ranker-latest").write_text(first.name + "\n")
    deleted = prune(tmp_path, "ranker", ".npz", "ranker-latest", keep=1)
    assert deleted == [second]
    assert first.exists() and third.exists()


def test_keep_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep must be >= 1"):
        publish(tmp_path, "ranker", ".npz", b"x", "ranker-latest", keep=0)


def test_published_files_are_readable_by_others(tmp_path: Path) -> None:
    """mkstemp's 0600 must not leak into what replicas under another uid read."""
    path = publish(tmp_path, "ranker", ".npz", b"x", "ranker-latest")
    assert path.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "ranker-latest").stat().st_mode & 0o777 == 0o644
