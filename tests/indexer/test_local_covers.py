"""Local covers: a catalog whose `album_url`s name files in its covers directory.

Real demo rows with their real covers (data/demo/covers), indexed through the real pipeline and
the real CNN encoder into both engines; hostile paths are refused with the row's line, and the
fetcher's own checks (symlink swapped in after the reader's check, FIFO, size, decode) hold.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from core.encoders.cover import CnnCoverEncoder
from core.store import VectorStore
from core.store.client import ClientStore
from core.store.edge import EdgeStore
from indexer.catalog import RowError, read_catalog
from indexer.covers import CoverFetcher, CoverUrlEncoder
from indexer.local_covers import LocalCoverDir, read_local_cover
from indexer.pipeline import Indexer
from schemas.tracks import point_id
from tests.conftest import (
    DEMO_COVERS,
    copy_demo_covers,
    covered_demo_rows,
    demo_rows,
    write_catalog,
)


def cover_tree(tmp: Path, rows: list[dict[str, str]]) -> Path:
    """A catalog directory with a covers/ holding the rows' real covers, and bait outside."""
    copy_demo_covers(rows, tmp)
    shutil.copy(DEMO_COVERS / Path(rows[0]["album_url"]).name, tmp / "secret.jpg")
    return tmp


HOSTILE = {
    "../secret.jpg": "contains '..'",
    "covers/../secret.jpg": "contains '..'",
    "secret.jpg": "outside the covers directory",
    "covers": "outside the covers directory",
    "covers/link.jpg": "goes through a symlink",
    "covers/linkdir/a.jpg": "goes through a symlink",
    "covers\\a.jpg": "contains '\\'",
    "covers/a\x01.jpg": "control characters",
}


def hostile_catalog(tmp: Path) -> tuple[Path, list[str], dict[int, str]]:
    """Good rows, then one row per hostile album_url; returns the expected reject per line."""
    header, rows = covered_demo_rows(albums=2)
    cover_tree(tmp, rows)
    (tmp / "covers" / "link.jpg").symlink_to(tmp / "secret.jpg")
    (tmp / "covers" / "linkdir").symlink_to(tmp, target_is_directory=True)
    _, spare = demo_rows(covers=True)
    spare = [r for r in spare if not r["album_url"] and not r["lyrics"].strip()]
    hostile = {
        **HOSTILE,
        str(tmp / "secret.jpg"): "is absolute",
        (tmp / "secret.jpg").as_uri(): "outside the covers directory",
        "file://elsewhere" + str(tmp / "covers" / "a.jpg"): "must be file:///absolute/path",
        "file://" + str(tmp) + "/covers/%2e%2e/secret.jpg": "contains '..'",
    }
    expected: dict[int, str] = {}
    for offset, (url, reason) in enumerate(hostile.items()):
        rows.append({**spare[offset], "album_url": url})
        expected[len(rows) + 1] = reason  # header is line 1, every row one line
    good = [r["id"] for r in rows if r["album_url"] not in hostile]
    return write_catalog(tmp / "catalog.csv", header, rows), good, expected


def test_hostile_paths_reject_their_row_with_its_line(tmp_path: Path) -> None:
    path, good, expected = hostile_catalog(tmp_path)
    errors: list[RowError] = []
    tracks = [t for batch in read_catalog(path, on_error=errors.append) for t in batch]
    assert [t.id for t in tracks] == good
    assert {e.line: e.reason for e in errors}.keys() == expected.keys()
    for error in errors:
        assert error.reason.startswith("field 'album_url': ")
        assert expected[error.line] in error.reason, error
    real_covers = (tmp_path / "covers").resolve()
    for track in tracks:
        assert track.album_url is not None and track.album_url.startswith("file:///")
        assert Path(track.album_url.removeprefix("file://")).parent == real_covers


def test_relative_file_url_and_symlinked_directory_name_the_same_file(tmp_path: Path) -> None:
    """`./covers/x`, `covers/x` and its file:// URL are one cover (one cache entry); the
    covers directory itself may be a symlink (data on another disk), a setting moves it."""
    _, rows = covered_demo_rows(albums=1)
    name = Path(rows[0]["album_url"]).name
    cover_tree(tmp_path / "store", rows)
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "covers").symlink_to(tmp_path / "store" / "covers")
    catalog = tmp_path / "cat" / "catalog.csv"
    covers = LocalCoverDir(catalog, Path("covers"))
    want = (tmp_path / "store" / "covers" / name).resolve().as_uri()
    assert covers.canonical(f"covers/{name}") == want
    assert covers.canonical(f"./covers/{name}") == want
    assert covers.canonical(want) == want
    assert covers.canonical(f"file://{tmp_path}/cat/covers/{name}") == want
    moved = LocalCoverDir(catalog, tmp_path / "store" / "covers")  # an absolute setting
    assert moved.canonical(want) == want
    with pytest.raises(ValueError, match="outside"):
        moved.canonical(f"covers/{name}")  # covers/ next to the catalog is no longer allowed


def test_fetcher_rechecks_what_the_reader_vouched_for(tmp_path: Path) -> None:
    _, rows = covered_demo_rows(albums=1)
    cover_tree(tmp_path, rows)
    name = Path(rows[0]["album_url"]).name
    covers = LocalCoverDir(tmp_path / "catalog.csv", Path("covers"))
    url = covers.canonical(f"covers/{name}")
    data = read_local_cover(url, 1_000_000)
    assert data == (DEMO_COVERS / name).read_bytes()
    with pytest.raises(ValueError, match="larger than 100 bytes"):
        read_local_cover(url, 100)
    # The fetcher's bounds and cache apply as to a download: 128x128 is over 10,000 pixels.
    with CoverFetcher(tmp_path / "cache", max_pixels=10_000) as fetcher:
        assert "image too large" in (fetcher.fetch_many([url])[url].error or "")
    with CoverFetcher(tmp_path / "cache") as fetcher:
        fetched = fetcher.fetch_many([url])[url]
        assert fetched.path is not None and fetched.path.read_bytes() == data
        assert fetcher.fetch_many([url])[url].from_cache
    # A link swapped in after the reader's check: refused, at the file and at a directory.
    (tmp_path / "covers" / name).unlink()
    (tmp_path / "covers" / name).symlink_to(tmp_path / "secret.jpg")
    with pytest.raises(ValueError, match="symlink"):
        read_local_cover(url, 1_000_000)
    shutil.move(tmp_path / "covers", tmp_path / "real")
    (tmp_path / "covers").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symlink"):
        read_local_cover(url, 1_000_000)
    fifo = tmp_path / "real" / "fifo.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):  # and no hang on open
        read_local_cover(fifo.as_uri(), 1_000_000)
    with pytest.raises(ValueError, match="no such file"):
        read_local_cover((tmp_path / "real" / "gone.jpg").as_uri(), 1_000_000)


@pytest.fixture(scope="module")
def cnn() -> CnnCoverEncoder:
    return CnnCoverEncoder(batch_size=8)


@pytest.fixture(params=["edge", "local"])
def engine_store(request, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "edge":
        store: VectorStore = EdgeStore(tmp_path / "qdrant", "tracks")
    else:
        store = ClientStore(QdrantClient(path=str(tmp_path / "qdrant")), "tracks", engine="local")
    yield store
    store.close()


@pytest.mark.slow
def test_index_run_embeds_local_covers_on_both_engines(
    tmp_path: Path, engine_store: VectorStore, cnn: CnnCoverEncoder
) -> None:
    """Real covers through the real pipeline: each album embedded once, every track of an
    album the same vector; a missing file and a non-image are reported per cover (the track
    indexed without one, retried next run), a hostile path rejects its row."""
    header, rows = covered_demo_rows(albums=4)
    catalog_dir = cover_tree(tmp_path / "catalog", rows)
    (catalog_dir / "covers" / "text.jpg").write_text("not an image")
    _, spare = demo_rows(covers=True)
    spare = [r for r in spare if not r["album_url"] and not r["lyrics"].strip()]
    broken = ["covers/missing.jpg", "covers/text.jpg", "../secret.jpg"]
    rows += [{**spare[i], "album_url": url} for i, url in enumerate(broken)]
    path = write_catalog(catalog_dir / "catalog.csv", header, rows)
    cover_errors: dict[str, str] = {}
    row_errors: list[RowError] = []

    def run() -> object:
        covers = CoverUrlEncoder(
            CoverFetcher(tmp_path / "cache", retries=1),
            cnn,
            on_error=lambda url, why: cover_errors.__setitem__(url, why),
        )
        try:
            return Indexer(engine_store, [covers], batch_size=8, progress=False).run(
                path, on_error=row_errors.append
            )
        finally:
            covers.close()

    first = run()
    assert first.indexed == len(rows) - 1 and first.rejected == 1
    assert [e.line for e in row_errors] == [len(rows) + 1]
    assert "contains '..'" in row_errors[0].reason
    assert first.missing["cover"] == 2
    reasons = {Path(url).name: why for url, why in cover_errors.items()}
    assert reasons == {"missing.jpg": "no such file", "text.jpg": reasons["text.jpg"]}
    assert reasons["text.jpg"].startswith("not an image")

    good = [r for r in rows if r["album_url"] not in broken]
    records = {
        r.payload["track_id"]: r
        for r in engine_store.retrieve([point_id(r["id"]) for r in rows], with_vectors=True)
    }
    by_album: dict[str, list[np.ndarray]] = {}
    for row in good:
        vector = np.asarray(records[row["id"]].vectors["cover"])
        assert vector.shape == (1280,)
        by_album.setdefault(row["album_url"], []).append(vector)
    assert len(by_album) == 4
    firsts = [vectors[0] for vectors in by_album.values()]
    for vectors in by_album.values():
        for vector in vectors[1:]:
            np.testing.assert_allclose(vector, vectors[0], atol=1e-6)
    assert all(not np.allclose(a, b) for i, a in enumerate(firsts) for b in firsts[i + 1 :])
    for row in rows[len(good) : len(good) + 2]:
        assert "cover" not in records[row["id"]].vectors

    cover_errors.clear()
    second = run()  # the two failed covers are tried again, nothing else is re-encoded
    assert second.indexed == 2 and second.unchanged == len(good)
    assert {Path(url).name for url in cover_errors} == {"missing.jpg", "text.jpg"}
