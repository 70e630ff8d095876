"""The folder tree is the architecture. `schemas/` holds the contracts and imports nothing of
ours; `core/` is the domain; `indexer/` (ingestion) and `evaluation/` build on it; `jobs/`
composes them from settings (train, index); `api/` (HTTP) and `cli/` (the command line) are
the two front doors, and nothing imports them. Every arrow points down; there is no exception
list.

Read from the source with `ast` (not by importing), so a violation hidden in a function body
or behind `TYPE_CHECKING` fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

OURS = {"schemas", "core", "indexer", "evaluation", "jobs", "api", "cli", "scripts"}
# package -> the packages of this repository it may import (itself always)
ALLOWED: dict[str, set[str]] = {
    "schemas": set(),
    "core": {"schemas"},
    "indexer": {"core", "schemas"},
    "evaluation": {"indexer", "core", "schemas"},
    "jobs": {"indexer", "core", "schemas"},
    "api": {"jobs", "core", "schemas"},
    "cli": {"jobs", "evaluation", "indexer", "core", "schemas"},
}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str) -> list[str]:
    allowed = ALLOWED[package] | {package}
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in imported_packages(path)
        if name in OURS and name not in allowed
    ]


def test_every_package_has_a_rule() -> None:
    """A new top-level package must say what it may import."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule test itself can fail: an import inside a function body is found."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from api.main import create_app\n    return create_app\n")
    assert imported_packages(module) == [(2, "api")]


def test_serving_needs_none_of_the_optional_extras() -> None:
    """The API and the indexer import neither LightFM (`train`), spotipy/diskcache (`spotify`)
    nor open_clip (`clip`), so `pip install musicrec` without extras serves: checked in a
    fresh interpreter, where `sys.modules` shows what an import really pulls in."""
    import os
    import subprocess
    import sys

    probe = (
        "import sys; import api.main, api.resources, indexer.pipeline, cli.app; "
        "print(sorted({'lightfm', 'spotipy', 'diskcache', 'open_clip'} & set(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]", out.stdout
