"""The synthetic interaction generator behind scripts/bench_personal.py: seeded, only known
ids, history lengths as asked, and taste structure (favourite artists, genres) that plain
popularity draws do not have."""

from __future__ import annotations

import importlib
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
gen = importlib.import_module("bench.interactions")

TRACKS = [f"t{i:05d}" for i in range(3000)]
ARTISTS = [f"artist-{i % 60}" if i % 50 else None for i in range(3000)]  # some without one
GENRES = [["pop", "rap", "rock", "edm"][i % 4] if i % 7 else None for i in range(3000)]
PARAMS = gen.InteractionParams(users=200, seed=3)


def generate(params: gen.InteractionParams = PARAMS, **kw: object) -> pd.DataFrame:
    return gen.generate_interactions(TRACKS, ARTISTS, GENRES, params, **kw)


def test_same_seed_same_interactions_other_seed_others() -> None:
    first = generate()
    pd.testing.assert_frame_equal(first, generate())
    assert not first.equals(generate(replace(PARAMS, seed=4)))


def test_counts_lengths_and_ids() -> None:
    frame = generate(lengths=[5, 40])
    assert set(frame["track_id"]) <= set(TRACKS)
    assert not frame.duplicated().any()
    sizes = frame.groupby("user_id").size()
    assert len(sizes) == PARAMS.users
    assert set(sizes) == {5, 40}
    counts = gen.describe(frame)
    assert counts["users"] == PARAMS.users
    assert counts["interactions"] == len(frame)
    assert 40 <= counts["distinct_tracks"] <= len(TRACKS)


def test_default_lengths_are_capped_lognormal() -> None:
    sizes = generate().groupby("user_id").size()
    assert sizes.min() >= 1 and sizes.max() <= PARAMS.max_length
    assert 40 <= sizes.median() <= 90  # exp(4.09) ≈ 60, capped at 100


def test_users_concentrate_on_few_artists_unlike_popularity_draws() -> None:
    artist = dict(zip(TRACKS, ARTISTS, strict=True))

    def top_artist_share(frame: pd.DataFrame) -> float:
        named = frame.assign(artist=frame["track_id"].map(artist)).dropna()
        top = named.groupby(["user_id", "artist"]).size().groupby("user_id").max()
        return float((top / named.groupby("user_id").size()).mean())

    tasteless = replace(PARAMS, artist_share=0.0, genre_share=0.0)
    assert top_artist_share(generate()) > 2 * top_artist_share(generate(tasteless))


def test_one_artist_and_genre_per_track_required() -> None:
    with pytest.raises(ValueError, match="one artist and one genre"):
        gen.generate_interactions(TRACKS, ARTISTS[:-1], GENRES, PARAMS)
