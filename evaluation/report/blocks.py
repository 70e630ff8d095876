"""Sections of docs/evaluation.md that another script measures and writes (between markers).

`scripts/evaluate.py` regenerates the whole report, but some measurements have their own,
slower command (`scripts/eval_covers.py --linked`); their section must survive a regeneration
unchanged rather than vanish or be rewritten from numbers this run did not measure.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.files import atomic_write


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: start -->", f"<!-- {name}: end -->"


def read_block(path: Path, name: str, default: str) -> str:
    """The block `name` of the report at `path`, markers included; `default` wrapped in them
    when the report or the block does not exist yet."""
    start, end = _markers(name)
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    found = re.search(re.escape(start) + r".*?" + re.escape(end), text, flags=re.S)
    return found.group(0) if found else f"{start}\n{default.strip()}\n{end}"


def write_block(path: Path, name: str, body: str) -> None:
    """Replace the block `name` of the report at `path` by `body` (it must have the block)."""
    start, end = _markers(name)
    text = path.read_text(encoding="utf-8")
    pattern = re.escape(start) + r".*?" + re.escape(end)
    if not re.search(pattern, text, flags=re.S):
        raise ValueError(f"{path} has no '{name}' block (regenerate it with scripts/evaluate.py)")
    new = re.sub(pattern, lambda _m: f"{start}\n{body.strip()}\n{end}", text, flags=re.S)
    atomic_write(path, new.encode("utf-8"))
