"""The strong baselines in the evaluation: R-precision and the beyond-accuracy metrics on hand
cases, tuning on a validation split of the training side only, and the baselines-only run
of a protocol (tuned, fitted, scored, reported) on a small real TidyTuesday slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.cf import EASE
from evaluation.methods.cf import Baseline, baselines
from evaluation.metrics import beyond_accuracy, gini, r_precision
from evaluation.ranker_protocol import (
    METRICS,
    Protocol,
    run_baselines,
    summary,
)
from evaluation.report.ranker import baselines_report
from evaluation.splits import continuation_split
from evaluation.tuning import grid_points, tune
from schemas.tracks import Track


def test_r_precision_reads_as_deep_as_the_relevant_set() -> None:
    assert r_precision(["a", "x", "c", "f"], {"a", "c", "f"}) == pytest.approx(2 / 3)
    assert r_precision(["x", "a"], {"a"}) == 0.0  # R = 1: only the first slot counts
    assert r_precision(["a"], set()) == 0.0


def test_beyond_accuracy_hand_case() -> None:
    popularity = {"a": 10.0, "b": 5.0, "c": 1.0, "d": 0.0}  # percentiles 100, 66.7, 33.3, 0
    out = beyond_accuracy([["a", "b"], ["a", "c"]], popularity, k=2)
    assert out["coverage"] == pytest.approx(3 / 4)
    assert out["popularity percentile"] == pytest.approx((100 + 200 / 3 + 100 + 100 / 3) / 4)
    assert out["Gini of exposure"] == pytest.approx(gini([2, 1, 1, 0]))
    assert out["Gini of exposure"] == pytest.approx(0.375)  # hand: (2·ranks−n−1)·x / (n·Σx)
    assert beyond_accuracy([["a"], ["a"]], popularity, k=1)["Gini of exposure"] == 0.75


def test_gini_bounds() -> None:
    assert gini([1, 1, 1, 1]) == 0.0
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    assert gini([]) == 0.0


def small_world(users: int = 60, items: int = 80, seed: int = 0) -> tuple[pd.DataFrame, list]:
    """Two taste blocks of playlists (each 12-20 tracks of its block): structure to learn."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        block = u % 2
        pool = np.arange(block * items // 2, (block + 1) * items // 2)
        for t in rng.choice(pool, size=rng.integers(12, 21), replace=False):
            rows.append((f"u{u:03d}", f"t{t:03d}"))
    frame = pd.DataFrame(rows, columns=["user_id", "track_id"])
    return frame, [Track(id=f"t{t:03d}") for t in range(items)]


def test_tuning_sees_the_training_side_only_and_orders_the_grid() -> None:
    rows, catalog = small_world()
    train, hidden = continuation_split(rows, seed=1)
    grid = {"lam": (0.1, 10.0, 1e6)}
    tuned = tune(Baseline("EASE^R", EASE, grid), catalog, train, seed=1)
    assert [p for p, _ in tuned.tried] == grid_points(grid)
    assert tuned.params == max(tuned.tried, key=lambda x: x[1])[0]
    # The hidden tracks never enter: the same training rows give the same choice whatever is
    # hidden, and a training side emptied of the hidden tracks' rows is what was tuned on.
    hidden_pairs = {(u, t) for u, ts in hidden.items() for t in ts}
    assert not hidden_pairs & set(map(tuple, train[["user_id", "track_id"]].to_numpy()))
    again = tune(Baseline("EASE^R", EASE, grid), catalog, train.copy(), seed=1)
    assert again == tuned
    assert tuned.tried[-1][1] < tuned.tried[0][1] or tuned.tried[-1][1] < tuned.tried[1][1]


def test_baselines_only_run_scores_every_baseline_once() -> None:
    rows, catalog = small_world()
    train, hidden = continuation_split(rows, seed=2)
    protocol = Protocol("standard", train, {u: set(v) for u, v in hidden.items()}, catalog)
    result = run_baselines(protocol, seed=2, threads=1, log=lambda m: None)
    names = [b.name for b in baselines(2)]
    assert list(result.per_query) == names == list(result.tuning)
    for name in names:
        assert set(result.per_query[name]) == set(METRICS)
        assert len(result.per_query[name]["NDCG@10"]) == len(hidden)
        assert 0 < result.beyond[name]["coverage"] <= 1
    # The two taste blocks are learnable: the closed form finds hidden tracks far above
    # chance (a uniform draw over 80 tracks for ~3 hidden scores about 0.04).
    assert result.per_query["EASE^R"]["NDCG@10"].mean() > 0.15
    numbers = summary([result], rounds=50, seed=2)
    text = baselines_report([result], numbers, "t", "intro")
    for name in names:
        assert f"| {name} |" in text
    assert "lam ∈ [10.0, 100.0, 500.0, 2000.0]" in text
