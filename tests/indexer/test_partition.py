"""`musicrec index --part I/N`: disjoint parts that cover the catalog, and workers that fill
one collection together (qdrant-client path)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qdrant_client import QdrantClient

from cli.app import main
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store import StoreError
from core.store.client import ClientStore
from indexer.catalog import read_catalog
from indexer.partition import Part, bucket, ensure_collection, has_scaler
from indexer.pipeline import Indexer
from tests.conftest import DEMO_TRACKS, ROOT, demo_rows, write_catalog


def valid_ids(path) -> list[str]:
    return [t.id for batch in read_catalog(path, chunk_size=500) for t in batch]


@pytest.fixture(scope="module")
def catalog(module_dir):
    """200 demo rows plus rows the reader rejects (a duplicate id, a bad number)."""
    header, rows = demo_rows()
    rows = rows[:200]
    bad = [dict(rows[0]), {**rows[1], "id": "broken-tempo", "tempo": "fast"}]
    return write_catalog(module_dir / "c.csv", header, rows + bad)


@settings(max_examples=60, deadline=None)
@given(ids=st.sets(st.text(min_size=1, max_size=30), max_size=200), n=st.integers(1, 64))
def test_every_id_falls_in_exactly_one_part(ids, n) -> None:
    owners = {i: [k for k in range(1, n + 1) if Part(k, n).owns(i)] for i in ids}
    assert all(len(parts) == 1 for parts in owners.values())


DEMO_IDS = valid_ids(DEMO_TRACKS)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 40))
def test_parts_of_the_real_catalog_cover_every_valid_row_once(n) -> None:
    parts = [[i for i in DEMO_IDS if Part(k, n).owns(i)] for k in range(1, n + 1)]
    merged = [i for p in parts for i in p]
    assert sorted(merged) == sorted(DEMO_IDS) and len(set(merged)) == len(merged)


def test_bucket_is_the_same_in_another_process() -> None:
    """Another interpreter with another hash seed puts every id in the same part (Python's
    salted hash() would not)."""
    code = (
        "import sys; from indexer.partition import bucket; "
        "print([bucket(i, 7) for i in sys.argv[1:]])"
    )
    ids = [*DEMO_IDS[:50], "é", "a b"]
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code, *ids], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str([bucket(i, 7) for i in ids])
    assert len(set(bucket(i, 7) for i in ids)) == 7  # and the ids do spread over the parts


@pytest.mark.parametrize("bad", ["0/3", "4/3", "2", "a/b", "1/0", "-1/2"])
def test_bad_part_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="I/N"):
        Part.parse(bad)
    assert main(["index", "x.csv", "--part", bad]) == 2  # usage error, nothing opened


def _worker(client: QdrantClient, part: Part) -> Indexer:
    store = ClientStore(client, "tracks", engine="memory")
    return Indexer(store, [LyricsTermsEncoder()], batch_size=16, progress=False, keep=part.owns)


def test_two_workers_fill_one_collection_exactly(catalog) -> None:
    client = QdrantClient(location=":memory:")
    first, second = _worker(client, Part(1, 2)), _worker(client, Part(2, 2))
    reports = {}

    def run(indexer: Indexer, part: Part) -> None:
        ensure_collection(indexer, catalog, "auto", part, wait_seconds=60, poll_seconds=0.05)
        reports[part.index] = indexer.run(catalog)

    # Part 2 starts first and must wait for part 1 to fit the scaler.
    waiting = threading.Thread(target=run, args=(second, Part(2, 2)))
    waiting.start()
    time.sleep(0.3)
    assert waiting.is_alive() and not has_scaler(second.store)
    run(first, Part(1, 2))
    waiting.join(60)
    ids = valid_ids(catalog)
    assert first.store.count() == len(ids) == 200  # the duplicate and the bad tempo rejected
    assert reports[1].indexed + reports[2].indexed == len(ids)
    assert reports[1].indexed and reports[2].indexed
    stored = {p.payload["track_id"] for b in first.store.scroll(500) for p in b}
    assert stored == set(ids)
    # Idempotent: a part re-run writes nothing new.
    again = _worker(client, Part(2, 2)).run(catalog)
    assert again.indexed == 0 and again.unchanged == reports[2].indexed
    assert first.store.count() == len(ids)


def test_a_part_without_a_fitted_scaler_refuses_clearly(catalog) -> None:
    indexer = _worker(QdrantClient(location=":memory:"), Part(3, 4))
    with pytest.raises(StoreError, match="--fit-only"):
        ensure_collection(indexer, catalog, "auto", Part(3, 4), wait_seconds=0)
    assert not indexer.store.exists()
    ensure_collection(indexer, catalog, "auto", None, wait_seconds=0)  # --fit-only
    assert has_scaler(indexer.store) and indexer.store.count() == 0
    ensure_collection(indexer, catalog, "auto", Part(3, 4), wait_seconds=0)  # now ready
