"""Hostile catalogs and hostile conditions for `musicrec index` (issue 17, items 3, 4, 5, 8).

Real rows of the demo sample, the real Qdrant Edge engine, the real indexing pipeline; crashes
are real SIGKILLs of a subprocess at the worst moment of collection creation.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as qe

from core.encoders.audio import AudioScaler
from core.store import StoreError
from core.store.edge import EdgeStore
from indexer.catalog import CatalogError, RowError
from indexer.pipeline import Indexer, audio_encoder_for
from schemas.layout import AUDIO_NUMERIC_FEATURES
from schemas.tracks import point_id
from tests.conftest import ROOT, slice_rows, write_catalog


def index(target: EdgeStore, path: Path, **kw) -> tuple[object, list[RowError]]:
    """Index without model encoders (audio and payload only), collecting the rejects."""
    errors: list[RowError] = []
    indexer = Indexer(target, [], batch_size=16, progress=False, **kw)
    return indexer.run(path, on_error=errors.append), errors


# --- absurd values (items 3 and 4) -----------------------------------------------------------


def test_absurd_values_in_the_first_catalog_are_rejected_and_audio_stays_usable(
    tmp_path, store
) -> None:
    header, rows = slice_rows(n_lyrics=0, n_other=40)
    rows[0] = {**rows[0], "tempo": "1e308"}  # line 2: once gave the scaler a mean of 6e306
    rows[1] = {**rows[1], "popularity": "1e30"}  # line 3: once broke every response with it
    rows[2] = {**rows[2], "id": "x" * 10_000}  # line 4: an id the API can never fetch
    report, errors = index(store, write_catalog(tmp_path / "c.csv", header, rows))
    assert [(e.line, e.reason.split(":")[0]) for e in errors] == [
        (2, "field 'tempo'"),
        (3, "field 'popularity'"),
        (4, "field 'id'"),
    ]
    assert report.indexed == store.count() == len(rows) - 3

    audio = audio_encoder_for(store)
    assert audio is not None
    assert all(math.isfinite(v) for v in (*audio.scaler.mean, *audio.scaler.std))
    stored = store.retrieve([point_id(r["id"]) for r in rows[3:]], with_vectors=True)
    vectors = np.array([r.vectors["audio"] for r in stored])
    assert vectors.shape == (len(rows) - 3, len(AUDIO_NUMERIC_FEATURES) + 2)
    assert np.isfinite(vectors).all()
    hits = store.search("audio", vectors[0].tolist(), limit=5)
    assert len(hits) == 5 and all(math.isfinite(h.score) for h in hits)
    assert hits[0].payload["track_id"] == rows[3]["id"]


def test_the_scaler_is_never_built_non_finite() -> None:
    row = dict.fromkeys(AUDIO_NUMERIC_FEATURES, 0.5)
    with pytest.raises(ValueError, match="non-finite values in \\['tempo'\\]"):
        AudioScaler.fit([row, {**row, "tempo": math.inf}])
    with pytest.raises(ValueError, match="not finite for tempo"):  # the std overflows
        AudioScaler.fit([row, {**row, "tempo": 1e308}, {**row, "tempo": -1e308}])
    good = AudioScaler.fit([row, {**row, "tempo": 120.0}]).to_dict()
    with pytest.raises(ValueError, match="not finite for tempo"):
        AudioScaler.from_dict(
            {**good, "mean": [math.nan if f == "tempo" else 0.0 for f in good["features"]]}
        )


# --- empty and missing catalogs (item 8) -------------------------------------------------------


def test_empty_and_missing_catalogs_get_a_clear_message(tmp_path, store) -> None:
    header, rows = slice_rows(n_lyrics=0, n_other=3)
    cases = {
        tmp_path / "missing.csv": "catalog file not found",
        (tmp_path / "empty.csv", ""): "catalog file is empty",
        (tmp_path / "header.csv", ",".join(header) + "\n"): "has no usable track",
    }
    for case, expected in cases.items():
        path = case if isinstance(case, Path) else case[0]
        if not isinstance(case, Path):
            path.write_text(case[1])
        with pytest.raises(CatalogError, match=expected) as info:
            index(store, path)
        assert "audio features first" not in str(info.value)
    broken = write_catalog(tmp_path / "bad.csv", header, [{**r, "tempo": "fast"} for r in rows])
    with pytest.raises(CatalogError, match=r"no usable track .*3 rejected"):
        index(store, broken)
    assert not store.exists()


# --- a disk filling up (item 8) ------------------------------------------------------------------


def test_too_little_free_space_stops_before_the_next_batch(tmp_path, store) -> None:
    header, rows = slice_rows(n_lyrics=0, n_other=40)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    beyond = shutil.disk_usage(tmp_path).free + 2**40
    with pytest.raises(StoreError, match="MUSICREC_INDEX_MIN_FREE_MB"):
        index(store, path, min_free_bytes=beyond, space_paths=[tmp_path / "qdrant"])
    assert not store.exists()  # nothing created on a full disk

    index(store, path, min_free_bytes=2**20, space_paths=[tmp_path / "qdrant"])
    assert store.count() == len(rows)
    changed = write_catalog(tmp_path / "c2.csv", header, [{**r, "name": "new"} for r in rows])
    with pytest.raises(StoreError, match="free some space and run again"):
        index(store, changed, min_free_bytes=beyond, space_paths=[tmp_path / "qdrant"])
    assert {r.payload["name"] for r in store.retrieve([point_id(r["id"]) for r in rows])} != {"new"}


# --- SIGKILL during collection creation (item 5) ---------------------------------------------

KILLER = textwrap.dedent(
    """
    import os, signal, sys, types
    from pathlib import Path

    import core.store.edge as edge
    from core.store.edge import EdgeStore
    from indexer.pipeline import Indexer

    root, catalog, moment = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if moment == "shard built":  # the engine has written its segments, nothing else yet
        real = edge.qe

        class Shard:
            @staticmethod
            def create(path, config):
                real.EdgeShard.create(path, config).close()
                die()

        edge.qe = types.SimpleNamespace(**{**vars(real), "EdgeShard": Shard})
    else:  # "before metadata": payload indexes built too, the metadata not yet written
        edge.EdgeStore.write_metadata = die
    Indexer(EdgeStore(root, "tracks"), [], batch_size=8, progress=False).run(catalog)
    """
)


@pytest.mark.parametrize("moment", ["shard built", "before metadata"])
def test_a_kill_during_creation_leaves_nothing_a_rerun_trips_on(tmp_path, moment) -> None:
    header, rows = slice_rows(n_lyrics=0, n_other=30)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(tmp_path / "qdrant"), str(path), moment],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]

    store = EdgeStore(tmp_path / "qdrant", "tracks")
    assert not store.exists()  # no half-created collection for the API to call healthy
    report, errors = index(store, path)
    assert errors == [] and report.indexed == len(rows)
    assert store.count() == len(rows)
    store.close()
    # The dead process's build directory is gone too.
    assert sorted(p.name for p in (tmp_path / "qdrant").iterdir()) == [
        "tracks",
        "tracks.musicrec.json",
    ]


def test_a_shard_left_without_metadata_by_older_versions_is_cleaned_or_explained(
    tmp_path,
) -> None:
    header, rows = slice_rows(n_lyrics=0, n_other=10)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    root = tmp_path / "qdrant"
    root.mkdir()
    config = qe.EdgeConfig(
        vectors={"audio": qe.EdgeVectorParams(size=13, distance=qe.Distance.Cosine)}
    )
    qe.EdgeShard.create(str(root / "tracks"), config).close()  # empty, no metadata
    store = EdgeStore(root, "tracks")
    report, _ = index(store, path)
    assert report.indexed == store.count() == len(rows)
    store.close()

    (root / "tracks.musicrec.json").unlink()  # a populated shard that lost its metadata
    store = EdgeStore(root, "tracks")
    with pytest.raises(StoreError, match="holds 10 points but its metadata file"):
        index(store, path)
    store.close()
