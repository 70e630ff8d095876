"""The collaborative models' hyper-parameters chosen on the training side, by `musicrec train`.

The settings (`schemas/settings/cf.py`) give one value per hyper-parameter, but the right
regularisation depends on the data: on the dense synthetic 160k interactions the product's iALS
with the default regularisation scored half of the tuned baseline's NDCG@10
(docs/dense-evaluation.md). So the ranker's training, which already holds out a label part of
each user's tracks, fits every model of `CF_GRIDS` on the feature part once per candidate and
keeps the candidate whose scores of the label users' histories rank their held-out tracks
best (recall@10 over a seeded sample of them): the labels the ranker learns from, never
evaluation data. The chosen values are then used to refit the served models on all
interactions, and are recorded in the artefact's metadata with every candidate's score.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from core.recommend.cf_models import CFScores, fit_cf
from core.recommend.user_tracks import UserTrackMatrix
from schemas.settings.cf import CFSettings

#: Candidates per model, besides the settings' own values (always tried, first: a tie keeps
#: them). Small on purpose: each candidate is one more fit on the feature part.
CF_GRIDS: dict[str, dict[str, tuple[float, ...]]] = {
    "ease": {"ease_lambda": (1000.0,)},
    "ials": {"ials_regularization": (100.0,)},
    "rp3beta": {"rp3_beta": (0.6,)},
    "userknn": {"userknn_neighbours": (200,)},
}
K = 10


def tune_cf(
    index: UserTrackMatrix,
    labels: Mapping[str, set[str]],
    settings: CFSettings,
    names: Sequence[str],
    users: int = 500,
    seed: int = 0,
    on_progress: Callable[[str], None] = lambda _: None,
) -> tuple[CFScores, CFSettings, dict[str, dict[str, float]]]:
    """The models `names` fitted on `index` (the feature part) with their chosen values, the
    settings with those values, and per model each candidate's validation recall@10."""
    known = sorted(u for u in labels if index.user_tracks(u))
    rng = np.random.default_rng(seed)
    sample = [known[i] for i in sorted(rng.permutation(len(known))[:users])]
    chosen, fitted = settings, []
    report: dict[str, dict[str, float]] = {}
    for name in names:
        best: tuple[float, CFScores, dict[str, Any]] | None = None
        report[name] = {}
        for values in _candidates(settings, CF_GRIDS.get(name, {})):
            scores = fit_cf(index, chosen.model_copy(update=values), [name], on_progress)
            recall = _recall(scores, name, index, labels, sample)
            report[name][", ".join(f"{k} {v:g}" for k, v in values.items()) or "settings"] = recall
            if best is None or recall > best[0]:
                best = (recall, scores, values)
        assert best is not None
        chosen = chosen.model_copy(update=best[2])
        fitted.append(best[1].fitted[name])
        on_progress(f"  {name}: chose {best[2] or 'the settings'} (recall@{K} {best[0]:.4f})")
    return CFScores(index, fitted), chosen, report


def _candidates(settings: CFSettings, grid: Mapping[str, Sequence[float]]) -> list[dict[str, Any]]:
    """The settings' values first, then every other combination of the grid's values."""
    axes = {k: [getattr(settings, k), *(v for v in values if v != getattr(settings, k))]
            for k, values in grid.items()}  # fmt: skip
    return [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _recall(
    scores: CFScores,
    name: str,
    index: UserTrackMatrix,
    labels: Mapping[str, set[str]],
    users: Sequence[str],
) -> float:
    """Mean share of each user's held-out tracks (at most K) in the model's top K of their
    feature-part history, their own tracks excluded."""
    if not users:
        return 0.0
    total = 0.0
    for user in users:
        history = index.user_tracks(user)
        row = scores.scores(name, history)
        if row is None:
            continue
        top = index.top(np.nan_to_num(row, nan=-np.inf), K, set(history))
        total += len({t for t, _ in top} & labels[user]) / min(len(labels[user]), K)
    return round(total / len(users), 4)
