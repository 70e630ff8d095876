"""CLI failures an operator meets outside the happy path are one `error:` line, never a
traceback, and leave nothing half-written: a model directory on a full disk, a migration
target that answers HTTP but is not Qdrant (issue 25, item 8)."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_collections import edge_dir  # noqa: F401  (the source collection)
from tests.conftest import DEMO_TRACKS, ROOT


def _musicrec(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUSICREC_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs: far too small for a model artefact (root can mount one; else skip)."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.slow
def test_train_on_a_full_disk_is_one_error_line_and_publishes_nothing(
    tmp_path: Path, full_disk: Path
) -> None:
    result = _musicrec(
        tmp_path / "data",
        "train",
        "--catalog",
        str(DEMO_TRACKS),
        "--interactions",
        str(DEMO_TRACKS.with_name("interactions.csv")),
        "--epochs",
        "1",
        "--out",
        str(full_disk),
    )
    assert "No space left on device" in _one_error_line(result)
    assert list(full_disk.iterdir()) == []  # no partial artefact, no pointer


class _NotQdrant(http.server.BaseHTTPRequestHandler):
    """Any web server: 200 and a page for every path."""

    def do_GET(self) -> None:
        body = b"<html><body>hello, I am not Qdrant</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_migrating_to_a_server_that_is_not_qdrant_is_one_error_line(
    edge_dir: Path,  # noqa: F811
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotQdrant)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = _musicrec(edge_dir, "collections", "migrate", "--to", url)
    finally:
        server.shutdown()
        server.server_close()
    line = _one_error_line(result)
    assert url in line or "Qdrant" in line, line  # names what it tried to reach
