"""The folder tree is the architecture: `core/` is the domain both sides use, `api/` (HTTP) and
`indexer/` (ingestion) depend on it, never the reverse and never on each other.

Read from the source with `ast` (not by importing), so a violation hidden in a function body
or behind `TYPE_CHECKING` fails too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level packages of this repository it must never import
FORBIDDEN: dict[str, set[str]] = {
    "core": {"api", "indexer", "scripts", "evaluation"},
    "schemas": {"api", "indexer", "scripts", "evaluation", "core"},
    "api": {"indexer", "scripts", "evaluation"},
    "indexer": {"api", "scripts", "evaluation"},
    "evaluation": {"api", "scripts"},
}
# `musicrec evaluate` is one command of the one CLI; it only hands over to the evaluation
# package, which itself builds on indexer/ and core/ (the natural direction).
ALLOWED: set[tuple[str, str]] = {("indexer/commands/evaluate.py", "evaluation")}


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
    forbidden = FORBIDDEN[package]
    return [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, name in imported_packages(path)
        if name in forbidden and (str(path.relative_to(ROOT)), name) not in ALLOWED
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_it_may(package: str) -> None:
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The rule test itself can fail: an import inside a function body is found."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from api.main import create_app\n    return create_app\n")
    assert imported_packages(module) == [(2, "api")]
