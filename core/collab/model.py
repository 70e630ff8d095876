"""The trained collaborative model as the API serves it: plain numpy, no LightFM object.

LightFM's scores are ``user_embedding · item_repr + user_bias + item_bias``, where an item's
representation and bias are its feature row times the feature embeddings and biases. That is
two matrix products, so serving needs only the arrays training produced: no LightFM import,
no private LightFM API to rebuild a model object, and tests check the result equals LightFM's
own ``predict``. Files are `core.collab.artefact`'s job; fitting is `core.collab.training`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.collab.features import Featurizer
from schemas.tracks import Track

__all__ = ["CollaborativeModel", "UnknownUserError"]


class UnknownUserError(KeyError):
    """The user has no interactions in the model: callers fall back to content-only ranking."""


class CollaborativeModel:
    """Trained embeddings plus everything needed to score catalog tracks for a known user.

    Track index order: the ``n_warm`` tracks with interactions first (track ``i < n_warm``
    owns identity feature column ``i``), then cold catalog tracks, which only have metadata
    features; feature columns ``n_warm + j`` are ``vocabulary[j]``. ``item_features`` has one
    row per catalog track, so cold tracks are scored and recommended like warm ones.
    """

    def __init__(
        self,
        *,
        user_ids: Sequence[str],
        track_ids: Sequence[str],
        n_warm: int,
        vocabulary: Sequence[str],
        featurizer: Featurizer,
        item_features: sp.csr_matrix,
        user_items: sp.csr_matrix,
        user_embeddings: np.ndarray,
        user_biases: np.ndarray,
        item_embeddings: np.ndarray,
        item_biases: np.ndarray,
        metadata: dict[str, Any],
    ) -> None:
        self.user_ids = list(user_ids)
        self.track_ids = list(track_ids)
        self.n_warm = n_warm
        self.vocabulary = list(vocabulary)
        self.featurizer = featurizer
        self.item_features = item_features
        self.user_items = user_items
        self.user_embeddings = user_embeddings
        self.user_biases = user_biases
        self.item_embeddings = item_embeddings
        self.item_biases = item_biases
        self.metadata = metadata
        self._check()
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        self._track_index = {t: i for i, t in enumerate(self.track_ids)}
        self._columns = {f: n_warm + i for i, f in enumerate(self.vocabulary)}
        # Scoring a user against the whole catalog is then one matrix-vector product.
        self._item_repr, self._item_bias = self._represent(item_features)

    def _check(self) -> None:
        """Refuse arrays that do not fit together (a corrupt or hand-made artefact) here,
        with the names of the parts, rather than as an index error in a request later."""
        n_users, n_tracks = len(self.user_ids), len(self.track_ids)
        n_features = self.n_warm + len(self.vocabulary)
        dim = self.user_embeddings.shape[-1] if self.user_embeddings.ndim == 2 else -1
        expected = {
            "item_features": (self.item_features.shape, (n_tracks, n_features)),
            "user_items": (self.user_items.shape, (n_users, n_tracks)),
            "user_embeddings": (self.user_embeddings.shape, (n_users, dim)),
            "user_biases": (self.user_biases.shape, (n_users,)),
            "item_embeddings": (self.item_embeddings.shape, (n_features, dim)),
            "item_biases": (self.item_biases.shape, (n_features,)),
        }
        wrong = [f"{k} {got} != {want}" for k, (got, want) in expected.items() if got != want]
        if not 0 <= self.n_warm <= n_tracks:
            wrong.append(f"n_warm {self.n_warm} outside 0..{n_tracks}")
        if len(set(self.track_ids)) != n_tracks or len(set(self.user_ids)) != n_users:
            wrong.append("duplicate track or user ids")
        if not all(isinstance(i, str) for i in [*self.track_ids, *self.user_ids]):
            wrong.append("track and user ids must be strings")
        arrays = (self.user_embeddings, self.user_biases, self.item_embeddings, self.item_biases)
        if not wrong and not all(np.isfinite(a).all() for a in (*arrays, self.item_features.data)):
            wrong.append("non-finite embeddings, biases or feature weights")
        if wrong:
            raise ValueError("inconsistent model arrays: " + "; ".join(wrong))

    def _represent(self, rows: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(representation, bias) of items with these feature rows."""
        return np.asarray(rows @ self.item_embeddings), np.asarray(rows @ self.item_biases)

    # --- lookups -------------------------------------------------------------------------
    def has_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def interaction_counts(self) -> dict[str, int]:
        """Training interactions per user (distinct tracks), for listing users."""
        counts = np.diff(self.user_items.indptr).tolist()
        return dict(zip(self.user_ids, counts, strict=True))

    def known_items(self, user_id: str) -> set[str]:
        """Tracks the user interacted with in training (what `recommend` excludes)."""
        return {self.track_ids[i] for i in self._known_rows(user_id)}

    # --- scoring -------------------------------------------------------------------------
    def score(self, user_id: str, track_ids: Sequence[str]) -> np.ndarray:
        """Scores (higher = better) for catalog track ids, cold ones included.

        Raises `UnknownUserError` for a user not in training; a track id outside the model's
        catalog gets NaN ("no opinion"), so a candidate list from the vector store can be
        reranked even when it holds tracks indexed after the model was trained.
        """
        user_bias, user_vec = self._user_vector(user_id)
        index = np.array([self._track_index.get(t, -1) for t in track_ids], dtype=np.int64)
        scores = np.full(len(index), np.nan, dtype=np.float32)
        found = index >= 0
        rows = index[found]
        scores[found] = self._item_repr[rows] @ user_vec + self._item_bias[rows] + user_bias
        return scores

    def score_tracks(self, user_id: str, tracks: Sequence[Track]) -> np.ndarray:
        """Scores for tracks the model may never have seen, from their metadata features only
        (features unseen in training are dropped)."""
        user_bias, user_vec = self._user_vector(user_id)
        item_repr, item_bias = self._represent(self.feature_rows(tracks))
        return (item_repr @ user_vec + item_bias + user_bias).astype(np.float32)

    def feature_rows(self, tracks: Sequence[Track]) -> sp.csr_matrix:
        """Metadata-only item-feature rows in the trained vocabulary (the rows a cold catalog
        track has; features unseen in training are dropped)."""
        return self.featurizer.rows(tracks, self._columns, self.item_features.shape[1])

    def score_all(self, user_id: str) -> np.ndarray:
        """Scores over the whole model catalog, in ``track_ids`` order."""
        user_bias, user_vec = self._user_vector(user_id)
        return self._item_repr @ user_vec + self._item_bias + user_bias

    def recommend(
        self, user_id: str, k: int, exclude_known: bool = True
    ) -> list[tuple[str, float]]:
        scores = self.score_all(user_id)
        if exclude_known:
            scores[self._known_rows(user_id)] = -np.inf
        k = max(0, min(k, int(np.isfinite(scores).sum())))
        top = np.argpartition(-scores, k - 1)[:k] if k else np.array([], dtype=np.int64)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.track_ids[i], float(scores[i])) for i in top]

    def _user(self, user_id: str) -> int:
        try:
            return self._user_index[user_id]
        except KeyError:
            raise UnknownUserError(user_id) from None

    def _known_rows(self, user_id: str) -> np.ndarray:
        row = self._user(user_id)
        return self.user_items.indices[
            self.user_items.indptr[row] : self.user_items.indptr[row + 1]
        ]

    def _user_vector(self, user_id: str) -> tuple[float, np.ndarray]:
        row = self._user(user_id)
        return float(self.user_biases[row]), self.user_embeddings[row]
