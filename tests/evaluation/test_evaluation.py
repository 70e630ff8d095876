"""The evaluation package: metrics against hand-computed cases, the splits and the leakage
guard, the embedding cache, and the harness end to end on a slice (through `musicrec evaluate`).

The metric cases are small enough to check on paper, because every number in
docs/evaluation.md rests on them. The end-to-end run uses the real data in ../shared/data
(the product never needs it at run time, so without it the test skips). The Method contract
is tested against every method in tests/evaluation/methods/test_contract.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli.app import main as musicrec
from core.encoders.base import Encoder
from evaluation.datasets import playlist_catalog
from evaluation.indexing import CachedEncoder
from evaluation.metrics import (
    auc,
    bootstrap_ci,
    f1_at_k,
    hit_rate_at_k,
    mean_ci,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    rmse,
)
from evaluation.protocols.covers import genre_precision, random_precision
from evaluation.protocols.linked_covers import LinkedCovers, genre_retrieval
from evaluation.report.blocks import read_block, write_block
from evaluation.splits import HIDE, MIN_TRACKS, continuation_split, warm_only
from evaluation.splits import Split as EvalSplit
from tests.conftest import SHARED_DATA

RANKED = ["a", "b", "c", "d", "e"]
RELEVANT = {"a", "c", "f"}


# --- ranking metrics ---------------------------------------------------------------------
def test_precision_recall_f1_on_a_hand_case() -> None:
    # Hits at ranks 1 and 3 of 5; 3 relevant items, one of them never retrieved.
    assert precision_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert recall_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 / 3)
    assert f1_at_k(RANKED, RELEVANT, 5) == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3))
    assert precision_at_k(RANKED, RELEVANT, 1) == 1.0
    assert recall_at_k(RANKED, RELEVANT, 1) == pytest.approx(1 / 3)
    assert precision_at_k(RANKED, RELEVANT, 2) == 0.5


def test_ndcg_binary_gain() -> None:
    dcg = 1 / math.log2(2) + 1 / math.log2(4)  # hits at ranks 1 and 3
    ideal = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)  # 3 relevant, k = 5
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, RELEVANT, 5) == pytest.approx(0.703918, abs=1e-6)
    # The ideal list is cut at k: with k = 2, it holds 2 hits, not 3.
    assert ndcg_at_k(["a", "c"], RELEVANT, 2) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / math.log2(3))


def test_hit_rate_and_empty_cases() -> None:
    assert hit_rate_at_k(RANKED, RELEVANT, 5) == 1.0
    assert hit_rate_at_k(["b", "d"], RELEVANT, 2) == 0.0
    assert ndcg_at_k(["b", "d"], RELEVANT, 2) == 0.0
    assert f1_at_k(["b", "d"], RELEVANT, 2) == 0.0
    assert recall_at_k(RANKED, set(), 5) == 0.0
    assert ndcg_at_k(RANKED, set(), 5) == 0.0


def test_short_lists_and_repeats_count_as_misses() -> None:
    assert precision_at_k(["a"], {"a"}, 5) == pytest.approx(0.2)  # empty slots are misses
    assert precision_at_k(["a", "a"], {"a"}, 2) == 0.5  # a repeat is not a second hit
    assert recall_at_k(["a", "a"], {"a", "b"}, 2) == 0.5


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        precision_at_k(RANKED, RELEVANT, 0)


def test_ranking_metrics_per_query_arrays() -> None:
    out = ranking_metrics([(RANKED, RELEVANT), (["b"], {"a"})], ks=(1, 5))
    assert set(out) == {f"{m}@{k}" for k in (1, 5) for m in ("P", "R", "F1", "NDCG", "HR")}
    np.testing.assert_allclose(out["P@5"], [0.4, 0.0])
    np.testing.assert_allclose(out["HR@1"], [1.0, 0.0])
    np.testing.assert_allclose(out["R@1"], [1 / 3, 0.0])


def test_auc_hand_case() -> None:
    # 0.9 beats all three negatives; 0.5 beats 0.1, ties 0.5 (half), loses to 0.7.
    assert auc([0.9, 0.5], [0.1, 0.5, 0.7]) == pytest.approx((1 + 1.5 / 3) / 2)
    assert auc([1.0], [1.0]) == 0.5
    assert auc([0.0], [1.0, 2.0]) == 0.0
    with pytest.raises(ValueError):
        auc([], [1.0])


def test_cover_genre_precision_hand_case() -> None:
    # Two tight pairs: each cover's nearest other cover shares its genre, except "c", whose
    # twin "d" is labelled rock while "c" is pop.
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.14, 0.99]])
    genres = ["pop", "pop", "pop", "rock"]
    np.testing.assert_allclose(genre_precision(vectors, genres, 1), [1.0, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(genre_precision(vectors, genres, 3), [2 / 3, 2 / 3, 2 / 3, 0.0])
    assert random_precision(genres) == pytest.approx((3 * 2 / 3 + 0) / 4)


def test_linked_genre_retrieval_with_and_without_the_query_artist() -> None:
    # a1 and a2 are one artist's two soul albums, alike; b is another artist's soul album,
    # far off; c a rock album. Without the artist's own albums a1 must find b.
    covers = LinkedCovers(
        [Path(n) for n in ("a1", "a2", "b", "c")],
        ["soul", "soul", "soul", "rock"],
        ["ann", "ann", "bob", "cy"],
    )
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.6, 0.8]])
    scores = vectors @ vectors.T
    np.testing.assert_allclose(
        genre_retrieval(scores, covers, 1, other_artists=False), [1.0, 1.0, 0.0]
    )  # c (rock, alone in its genre) asks no query
    # a1 / a2 now rank c above b; b's best other-artist cover is c (rock).
    np.testing.assert_allclose(
        genre_retrieval(scores, covers, 1, other_artists=True), [0.0, 0.0, 0.0]
    )
    np.testing.assert_allclose(
        genre_retrieval(scores, covers, 2, other_artists=True), [0.5, 0.5, 0.5]
    )


def test_a_measured_block_survives_regeneration(tmp_path: Path) -> None:
    report = tmp_path / "evaluation.md"
    fresh = read_block(report, "covers-linked", "not measured yet")
    assert fresh == "<!-- covers-linked: start -->\nnot measured yet\n<!-- covers-linked: end -->"
    report.write_text(f"# Evaluation\n\n{fresh}\n\n## Caveats\n", encoding="utf-8")
    write_block(report, "covers-linked", "P@10 0.3 [0.2, 0.4]")
    kept = read_block(report, "covers-linked", "not measured yet")
    assert "P@10 0.3 [0.2, 0.4]" in kept and "not measured" not in kept
    assert report.read_text(encoding="utf-8").endswith("\n\n## Caveats\n")
    with pytest.raises(ValueError, match="no 'other' block"):
        write_block(report, "other", "x")


# --- RMSE and the bootstrap --------------------------------------------------------------
def test_rmse_hand_case() -> None:
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert rmse(np.array([0.5, 0.5]), np.array([0.0, 1.0])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        rmse([1, 2], [1])
    with pytest.raises(ValueError):
        rmse([], [])


def test_bootstrap_ci_contains_the_mean_and_is_deterministic() -> None:
    values = np.random.default_rng(1).random(200)
    low, high = bootstrap_ci(values, rounds=1000, seed=3)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_ci(values, rounds=1000, seed=3)
    assert (low, high) != bootstrap_ci(values, rounds=1000, seed=4)
    narrow = bootstrap_ci(values, rounds=1000, seed=3, level=0.5)
    assert low < narrow[0] < narrow[1] < high
    mean, mlow, mhigh = mean_ci(values, rounds=1000, seed=3)
    assert (mean, mlow, mhigh) == (pytest.approx(values.mean()), low, high)


def test_bootstrap_ci_edge_cases() -> None:
    assert bootstrap_ci(np.full(10, 0.25), rounds=100) == (0.25, 0.25)
    rng = np.random.default_rng(5)
    # A Generator is used as is: the same stream gives the same interval as its seed.
    assert bootstrap_ci([0.0, 1.0, 1.0], rounds=200, seed=rng) == bootstrap_ci(
        [0.0, 1.0, 1.0], rounds=200, seed=5
    )
    squared = bootstrap_ci(
        [1.0, 4.0], rounds=100, seed=0, statistic=lambda s: np.sqrt(s.mean(axis=1))
    )
    assert 1.0 <= squared[0] <= squared[1] <= 2.0
    with pytest.raises(ValueError):
        bootstrap_ci([], rounds=10)
    with pytest.raises(ValueError):
        bootstrap_ci([1.0], level=1.5)


# --- the embedding cache -----------------------------------------------------------------
class CountingEncoder(Encoder[str]):
    vector_name = "lyrics"
    encoder_id = "counting@1"
    dim = 2

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, items: Sequence[str | None]) -> list[np.ndarray | None]:
        self.calls.append([t or "" for t in items])
        return [np.array([len(t or ""), 1.0], dtype=np.float32) for t in items]


def test_cached_encoder_encodes_each_text_once_across_runs(tmp_path: Path) -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, tmp_path / "cache.npz")
    first = cached.encode(["la la", None, "  ", "oh"])
    assert first[1] is None and first[2] is None
    np.testing.assert_array_equal(first[0], [5, 1])
    assert cached.encode(["oh", "la la"])[0] is not None
    assert inner.calls == [["la la", "oh"]]  # the second call hit the memo only
    again = CachedEncoder(CountingEncoder(), tmp_path / "cache.npz")
    np.testing.assert_array_equal(again.encode(["oh"])[0], [2, 1])
    assert again.inner.calls == []
    assert (again.encoder_id, again.dim) == ("counting@1", 2)


# --- splits and the leakage guard ---------------------------------------------------------
def playlist_rows() -> pd.DataFrame:
    sizes = {"a": 10, "b": 15, "c": 4}  # c is too short to evaluate
    return pd.DataFrame(
        [(u, f"{u}{i}") for u, n in sizes.items() for i in range(n)] + [("b", "a0")],
        columns=["user_id", "track_id"],
    )


def test_continuation_split_hides_a_seeded_share_of_long_playlists() -> None:
    rows = playlist_rows()
    train, hidden = continuation_split(rows, seed=1)
    assert sorted(hidden) == ["a", "b"]  # "c" has fewer than MIN_TRACKS tracks
    assert MIN_TRACKS == 10
    assert len(hidden["a"]) == round(HIDE * 10) and len(hidden["b"]) == round(HIDE * 16)
    assert len(train) + sum(map(len, hidden.values())) == len(rows)
    for user, tracks in hidden.items():
        visible = set(train.loc[train["user_id"] == user, "track_id"])
        assert not visible & set(tracks)
    again_train, again_hidden = continuation_split(rows, seed=1)
    assert again_train.equals(train)
    assert {u: list(t) for u, t in again_hidden.items()} == {u: list(t) for u, t in hidden.items()}
    _, other = continuation_split(rows, seed=2)
    assert {u: set(t) for u, t in other.items()} != {u: set(t) for u, t in hidden.items()}


def test_warm_only_drops_tracks_without_a_training_row() -> None:
    rows = playlist_rows()
    train, hidden = continuation_split(rows, seed=1)
    known = train.groupby("user_id")["track_id"].agg(set).to_dict()
    split = EvalSplit(
        train, {u: set(t) for u, t in hidden.items()}, known, sorted(rows["track_id"].unique())
    )
    tidy = rows.rename(columns={"user_id": "playlist_id"})
    warm, warm_tidy = warm_only(split, tidy)
    trained = set(train["track_id"])
    assert set(warm.catalog_ids) == trained
    assert all(h and h <= trained for h in warm.hidden.values())
    assert set(warm_tidy["track_id"]) <= trained
    for user, tracks in split.hidden.items():
        assert warm.hidden.get(user, set()) == tracks & trained
    assert warm.train_rows is split.train_rows  # same split, same training side


def test_playlist_catalog_never_carries_the_playlist_genre() -> None:
    tidy = pd.DataFrame(
        {
            "track_id": ["t2", "t1", "t1"],
            "track_name": ["two", "one", "one"],
            "track_album_name": ["x", "y", "y"],
            "track_artist": ["A", "B", "B"],
            "track_popularity": [1, 2, 2],
            "track_album_release_date": ["2000", "2001", "2001"],
            "playlist_genre": ["rock", "pop", "edm"],
            "playlist_subgenre": ["hard rock", "dance pop", "big room"],
            **{f: [0.5, 0.5, 0.5] for f in ("danceability", "energy", "key", "loudness", "mode",
                                              "speechiness", "acousticness", "instrumentalness",
                                              "liveness", "valence", "tempo", "duration_ms")},
        }
    )  # fmt: skip
    catalog = playlist_catalog(tidy, {"t1": "la la"})
    assert catalog["id"].tolist() == ["t1", "t2"]
    assert not {"genre", "playlist_genre", "playlist_subgenre"} & set(catalog.columns)
    assert catalog["lyrics"].tolist()[0] == "la la" and pd.isna(catalog["lyrics"].tolist()[1])


# --- the harness end to end --------------------------------------------------------------
def test_evaluate_command_names_missing_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert musicrec(["evaluate", "--shared", str(tmp_path), "--out", str(tmp_path / "e.md")]) == 2
    assert f"no tidytuesday_spotify_songs.csv under {tmp_path}" in capsys.readouterr().err
    assert not (tmp_path / "e.md").exists()


@pytest.mark.slow
def test_harness_writes_the_report_on_a_slice(tmp_path: Path) -> None:
    if not (SHARED_DATA / "tidytuesday_spotify_songs.csv").is_file():
        pytest.skip(f"the real evaluation data is not at {SHARED_DATA} (only the harness needs it)")
    for module in ("sklearn", "gensim", "matplotlib"):
        pytest.importorskip(module, reason=f'{module} missing: pip install -e ".[eval]"')
    out = tmp_path / "docs" / "evaluation.md"
    out.parent.mkdir()
    # Section 7 measured by scripts/eval_covers.py --linked: the regeneration keeps it as is.
    measured = read_block(out, "covers-linked", "P@10 0.1544 (eval_covers)")
    out.write_text(f"# Evaluation\n\n{measured}\n", encoding="utf-8")
    code = musicrec(
        [
            "evaluate",
            "--shared", str(SHARED_DATA), "--out", str(out), "--cache", str(tmp_path / "cache"),
            "--quick", "--playlists", "20", "--songs", "120", "--covers", "4",
            "--bootstrap", "200",
        ]
    )  # fmt: skip
    assert code == 0
    text = out.read_text(encoding="utf-8")
    for heading in (
        "# Evaluation",
        "## Summary",
        "## 1. Playlist continuation",
        "## 2. Lyrics representations",
        "## 3. Sparse vs dense lyrics",
        "## 4. Covers",
        "## 5. RMSE",
        "## 7. Real covers linked to tracks",
        "### The unseen-track artefact and the warm-only protocol",
        "## Caveats",
        "## Metric definitions",
    ):
        assert heading in text, heading
    assert "`--quick` run" in text
    assert f"## 7. Real covers linked to tracks\n\n{measured}\n" in text
    assert "Not measured yet" not in text
    assert "| LightFM only | 20 |" in text
    assert "MUSICREC_DEFAULT_WEIGHTS" in text
    for row in ("audio only", "content fusion", "hybrid, collab_weight 0.5", "same artist as seeds",
                "TF-IDF", "Word2Vec", "dense+sparse 1:1", "default weights"):  # fmt: skip
        assert f"| {row}" in text, row
    for image in ("playlist_continuation", "playlist_continuation_warm", "collab_weight",
                  "lyrics_representations", "sparse_dense", "covers"):  # fmt: skip
        path = out.parent / "img" / f"{image}.png"
        assert path.stat().st_size > 1000, path
        assert f"img/{image}.png" in text
    summary = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert summary["quick"] is True and summary["bootstrap"] == 200 and summary["seed"] == 7
    results = summary["results"]
    assert set(results) >= {"playlist_continuation", "playlist_continuation_warm_only",
                            "lyrics_same_artist", "cover_genre_retrieval"}  # fmt: skip
    lightfm = results["playlist_continuation"]["LightFM only"]["P@10"]
    assert len(lightfm) == 3 and lightfm[1] <= lightfm[0] <= lightfm[2]
    assert f"{lightfm[0]:.4f} [{lightfm[1]:.4f}, {lightfm[2]:.4f}]" in text  # the table's cell
    rmse = results["rmse_calibrated_membership"]["constant 0.5"]["RMSE"]
    assert rmse == [0.5, 0.5, 0.5]
