"""The evaluation harness: every method on the real data, one command, one report.

    python scripts/evaluate.py --shared ../shared/data --out docs/evaluation.md [--quick]

The same command as `musicrec evaluate` (cli/commands/evaluate.py); the work is done by
the `evaluation` package (see its docstring): catalogs indexed by the product's `Indexer`,
recommendations from the product's `Recommender`, baselines behind one Ranker contract,
per-query metrics with bootstrap intervals, then docs/evaluation.md, its plots and
docs/evaluation.json.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cli.commands.evaluate import evaluate


def main(argv: Sequence[str] | None = None) -> int:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(evaluate)
    return app(args=list(argv) if argv is not None else None, standalone_mode=False) or 0


if __name__ == "__main__":
    raise SystemExit(main())
