"""The int8 ONNX lyrics runtime: same space as torch (cosine ≥ 0.99), cached export, interop."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from core.encoders.factory import build_lyrics_encoder
from core.encoders.lyrics import EncoderLoadError, LyricsEncoder
from core.store.edge import EdgeStore
from indexer.pipeline import Indexer
from tests.conftest import make_settings, slice_rows, write_catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def int8_encoder(module_dir) -> LyricsEncoder:
    data_dir = module_dir
    return build_lyrics_encoder(make_settings(data_dir, lyrics_runtime="onnx-int8", device="cpu"))


def demo_lyrics(n: int) -> list[str]:
    _, rows = slice_rows(n_lyrics=n, n_other=0)
    return [r["lyrics"] for r in rows]


def test_int8_vectors_stay_within_cosine_099_of_torch(int8_encoder, lyrics_encoder) -> None:
    texts = demo_lyrics(48)
    fp32 = np.stack(lyrics_encoder.encode(texts))  # type: ignore[arg-type]
    int8 = np.stack(int8_encoder.encode(texts))  # type: ignore[arg-type]
    assert int8_encoder.runtime == "onnx-int8"
    assert int8.shape == fp32.shape == (48, 384)
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() >= 0.99, f"worst lyric at cosine {cosines.min():.4f}"
    assert not np.allclose(int8, fp32, atol=1e-4)  # it really is a different runtime
    # Same space, so one encoder id: either runtime may query what the other indexed.
    assert int8_encoder.encoder_id == lyrics_encoder.encoder_id
    # Batching sorts by length; the answers must still come back in the order asked. (Not
    # bit-identical alone and in a batch: dynamic int8 scales activations per batch.)
    alone = int8_encoder.encode_text(texts[5])
    assert int(np.argmax(int8 @ alone)) == 5
    assert float(alone @ fp32[5]) >= 0.99


def test_the_export_is_cached_and_reused(int8_encoder, tmp_path) -> None:
    settings = make_settings(tmp_path, lyrics_runtime="onnx-int8", device="cpu")
    first = build_lyrics_encoder(settings)
    files = list((tmp_path / "onnx").iterdir())
    assert [f.suffix for f in files] == [".onnx"], files  # no temporary leftovers
    stamp = files[0].stat().st_mtime_ns
    second = build_lyrics_encoder(settings)
    assert [f.stat().st_mtime_ns for f in (tmp_path / "onnx").iterdir()] == [stamp]
    text = demo_lyrics(1)[0]
    np.testing.assert_allclose(first.encode_text(text), second.encode_text(text), atol=1e-6)


def test_a_collection_indexed_with_int8_is_searched_with_torch(
    tmp_path, int8_encoder, lyrics_encoder
) -> None:
    header, rows = slice_rows(n_lyrics=30, n_other=0)
    path = write_catalog(tmp_path / "c.csv", header, rows)
    store = EdgeStore(tmp_path / "qdrant", "tracks")
    try:
        report = Indexer(store, [int8_encoder], batch_size=8, progress=False).run(path)
        assert report.indexed == 30
        # The torch runtime (the API's default) reads the same collection without a mismatch.
        report = Indexer(store, [lyrics_encoder], batch_size=8, progress=False).run(path)
        assert (report.indexed, report.unchanged) == (0, 30)
        for row in rows[:10]:
            hit = store.search("lyrics", lyrics_encoder.encode_text(row["lyrics"]), 1)[0]
            assert hit.payload["track_id"] == row["id"]
    finally:
        store.close()


def test_without_onnxruntime_the_error_names_the_extra(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    settings = make_settings(tmp_path, lyrics_runtime="onnx-int8", device="cpu")
    with pytest.raises(EncoderLoadError, match=r"musicrec\[onnx\]"):
        build_lyrics_encoder(settings)
