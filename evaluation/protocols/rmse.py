"""RMSE of a calibrated membership probability: where a prediction is a number to compare
with an outcome, next to the ranking metrics that answer the product's question."""

from __future__ import annotations

import numpy as np

from core.collab.model import CollaborativeModel
from evaluation.results import Row
from evaluation.splits import Split


def rmse_rows(
    model: CollaborativeModel, split: Split, counts: dict[str, int], seed: int
) -> tuple[list[Row], int]:
    """Squared error of a probability that a (playlist, track) pair is a hidden member.

    Positives are the playlist's hidden tracks; negatives as many tracks hidden from *other*
    playlists that this one never had. Both classes then come from the same hiding process:
    negatives drawn from the whole catalog would be mostly tracks seen in training, while a
    hidden track often has no training row at all, and "never seen in training" alone would
    then predict the label. A raw LightFM score is not a probability, so a logistic
    calibration maps it to one, fitted on the other half of the playlists (two-fold
    cross-fitting: no pair is scored by a calibration that saw it). Popularity gets the same
    treatment with log(1 + training count); the constant 0.5 (the base rate of this balanced
    sample) is the no-information floor. Rows hold per-playlist MSE (key "MSE").
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(seed + 5)
    users = split.users
    hidden_pool = np.array(sorted(set().union(*split.hidden.values())))
    pairs: list[tuple[int, str, int]] = []
    for i, user in enumerate(users):
        pos = sorted(split.hidden[user])
        taken = split.known.get(user, set()) | split.hidden[user]
        candidates = [t for t in rng.permutation(hidden_pool) if t not in taken]
        pairs += [(i, t, 1) for t in pos] + [(i, str(t), 0) for t in candidates[: len(pos)]]
    user_of = np.array([p[0] for p in pairs])
    label = np.array([p[2] for p in pairs], dtype=np.float64)
    lightfm = np.concatenate(
        [model.score(users[i], [t for u, t, _ in pairs if u == i]) for i in range(len(users))]
    ).astype(np.float64)
    pop = np.log1p([counts.get(t, 0) for _, t, _ in pairs])
    fold = rng.permutation(len(users)) % 2
    rows = []
    for name, score in (("LightFM score, calibrated", lightfm), ("popularity, calibrated", pop)):
        predicted = np.empty(len(pairs))
        for f in (0, 1):
            fit_mask, apply_mask = fold[user_of] != f, fold[user_of] == f
            calib = LogisticRegression().fit(score[fit_mask, None], label[fit_mask])
            predicted[apply_mask] = calib.predict_proba(score[apply_mask, None])[:, 1]
        rows.append(Row(name, {"MSE": per_user_mse(predicted, label, user_of, len(users))}))
    const = np.full(len(pairs), 0.5)
    rows.append(Row("constant 0.5", {"MSE": per_user_mse(const, label, user_of, len(users))}))
    return rows, len(pairs)


def per_user_mse(
    predicted: np.ndarray, label: np.ndarray, user_of: np.ndarray, n: int
) -> np.ndarray:
    """Per playlist, so the bootstrap resamples playlists (pairs of one playlist are not
    independent); RMSE is then sqrt of the mean, and its interval sqrt of the MSE interval."""
    err = (predicted - label) ** 2
    return np.bincount(user_of, weights=err, minlength=n) / np.bincount(user_of, minlength=n)
