"""Damaged collection metadata (`<collection>.musicrec.json`), property-based: the file empty,
not JSON, not an object, or one of its fields replaced by another JSON value. Reading the
layout and answering a seed recommendation (what /health and /search do) either works or raises
`StoreError` naming the file or the field: the API's 503, never a 500 (it was one for /search,
while /health said ok)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.recommend.factory import build_recommender
from core.recommend.recommender import SeedRequest
from core.store import StoreError
from core.store.edge import EdgeStore
from schemas.layout import LayoutMismatchError
from schemas.settings.recommend import RecommendSettings
from tests.core.store.contract import LAYOUT, make_points

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def good(module_dir) -> Path:
    root = module_dir / "q"
    store = EdgeStore(root, "tracks")
    store.create(LAYOUT, {"audio_scaler": {"mean": [0.0], "std": [1.0]}})
    store.upsert(make_points())
    store.close()
    return root


def answer(root: Path) -> None:
    store = EdgeStore(root, "tracks")
    try:
        store.layout()
        build_recommender(RecommendSettings(), store).recommend(SeedRequest(positive=["t1"]))
    finally:
        store.close()


def damaged_copy(good: Path, tmp_path: Path, text: str) -> Path:
    root = tmp_path / "q"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(good, root)
    (root / "tracks.musicrec.json").write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("text", ["", "{", "not json", "[]", "null", '"layout"', "\x00\x01"])
def test_unreadable_metadata_is_a_store_error_naming_the_file(good, tmp_path, text) -> None:
    root = damaged_copy(good, tmp_path, text)
    with pytest.raises(StoreError, match=r"tracks\.musicrec\.json is damaged"):
        answer(root)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_damaged_field_is_refused_by_name_or_served(good, tmp_path, data) -> None:
    metadata = json.loads((good / "tracks.musicrec.json").read_text())
    path = data.draw(st.sampled_from(sorted(_paths(metadata))), label="field")
    _replace(metadata, path, data.draw(JSON_VALUES, label="value"))
    root = damaged_copy(good, tmp_path, json.dumps(metadata))
    # Either it serves, or the API's 503 / 409 with the message naming what is wrong.
    with contextlib.suppress(StoreError, LayoutMismatchError):
        answer(root)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key path into the metadata (nested objects included)."""
    out = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out += [(*prefix, key), *_paths(inner, (*prefix, key))]
    return out


def _replace(metadata: dict, path: tuple, value: object) -> None:
    target = metadata
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
