"""Building blocks of scripts/bench_query.py, bench_engine_threads.py and bench_personal.py,
one job each.

The constants every part shares live here.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
COLLECTION = "bench"
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]
