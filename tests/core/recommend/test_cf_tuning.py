"""The collaborative models' hyper-parameters chosen on the ranker's labels: every candidate
of the grid is scored, the settings' own value first, and the best one is kept, fitted and
written into the settings the served models are refitted with."""

from __future__ import annotations

import numpy as np
import pytest

from core.recommend.cf_models import fit_cf
from core.recommend.cf_tuning import CF_GRIDS, K, tune_cf
from core.recommend.training import RankerParams, split_interactions
from core.recommend.user_tracks import UserTrackMatrix
from tests.core.recommend.sources.test_contract import ARTISTS, CF, CF_SETTINGS, interactions

PARAMS = RankerParams(label_share=0.25, max_users=100, threads=1, seed=3)


@pytest.fixture(scope="module")
def tuned():
    features, labels = split_interactions(interactions(), PARAMS)
    index = UserTrackMatrix.from_pairs(features, ARTISTS)
    return index, labels, tune_cf(index, labels, CF_SETTINGS, CF, seed=3)


def recall(index, labels, scores, name) -> float:
    """Recomputed from the fitted model, user by user."""
    users = sorted(u for u in labels if index.user_tracks(u))
    total = 0.0
    for u in users:
        history = index.user_tracks(u)
        row = np.nan_to_num(scores.scores(name, history), nan=-np.inf)
        top = {t for t, _ in index.top(row, K, set(history))}
        total += len(top & labels[u]) / min(len(labels[u]), K)
    return round(total / len(users), 4)


def test_every_candidate_is_scored_and_the_best_is_kept(tuned) -> None:
    index, labels, (scores, chosen, report) = tuned
    assert set(report) == set(CF) and set(scores.names) == set(CF)
    for name in CF:
        [(key, values)] = CF_GRIDS[name].items()
        default = getattr(CF_SETTINGS, key)
        labels_of = [f"{key} {v:g}" for v in [default, *values]]
        assert list(report[name]) == labels_of  # the settings' value first
        best = max(report[name].values())
        winner = next(k for k, v in report[name].items() if v == best)  # a tie keeps the first
        assert winner == f"{key} {getattr(chosen, key):g}"
        # The kept model is the one fitted with the chosen value, and its score is its own.
        refit = fit_cf(index, chosen, [name])
        assert recall(index, labels, scores, name) == best
        assert recall(index, labels, refit, name) == best
