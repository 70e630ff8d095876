"""Write the API's OpenAPI schema to web/openapi.json, the snapshot the web app's client types
are generated from (`npm run generate`). tests/api/test_openapi_snapshot.py fails when the
snapshot and the app differ: run this after changing a route or a schema.

    python scripts/export_openapi.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.main import create_app  # noqa: E402
from schemas.settings import Settings  # noqa: E402

SNAPSHOT = ROOT / "web" / "openapi.json"


def current_schema() -> str:
    """The schema as the app publishes it (no lifespan runs: nothing is opened)."""
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(_env_file=None, data_dir=Path(data_dir)))  # type: ignore[call-arg]
        return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SNAPSHOT.write_text(current_schema(), encoding="utf-8")
    print(f"wrote {SNAPSHOT.relative_to(ROOT)}")
