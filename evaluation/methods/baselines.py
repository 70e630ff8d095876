"""The no-learning bars the product has to clear: random, popularity, co-occurrence and
"more by the same artists", all fitted on the training side only.

Popularity is the training-side membership count, ties broken by Spotify popularity (a tiny
fraction added); co-occurrence and same artist add a millionth of it so their ties fall the
same way. A query whose user is unknown to the training side is scored from its seeds.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from evaluation.methods.base import Query, ScoringMethod, TrainData
from evaluation.splits import artist_matrix, train_matrix


class RandomMethod(ScoringMethod):
    """A seeded uniform draw per query (fit restarts the stream)."""

    name = "random"

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def _fit(self, data: TrainData) -> None:
        self.rng = np.random.default_rng(self.seed)

    def scores(self, query: Query) -> np.ndarray:
        return self.rng.random(len(self.ids))


class _Interactions(ScoringMethod):
    """Shared fitting: the user × track matrix of the training side and popularity."""

    def _fit(self, data: TrainData) -> None:
        self.matrix, self.user_index = train_matrix(data.interactions, data.ids)
        counts = np.asarray(self.matrix.sum(axis=0)).ravel()
        spotify = np.array([t.popularity or 0 for t in data.catalog], dtype=np.float64)
        self.counts = counts
        self.popularity = counts + spotify / 1000

    def history(self, query: Query) -> sp.csr_matrix:
        """The query's row: its training row when the user is known, else its seeds."""
        if query.user_id is not None and query.user_id in self.user_index:
            return self.matrix[self.user_index[query.user_id]]
        cols = sorted(self.index[t] for t in query.seeds if t in self.index)
        data = np.ones(len(cols), dtype=np.float32)
        return sp.csr_matrix((data, ([0] * len(cols), cols)), shape=(1, len(self.ids)))

    def rank(self, query: Query, k: int) -> list[str]:
        known = {str(t) for t in self.ids[self.history(query).indices]}
        return super().rank(Query(query.id, query.seeds, query.exclude | known, query.user_id), k)


class PopularityMethod(_Interactions):
    name = "popularity"

    def scores(self, query: Query) -> np.ndarray:
        return self.popularity


class CoOccurrenceMethod(_Interactions):
    """Tracks of training playlists sharing tracks with this one, weighted by the overlap."""

    name = "co-occurrence"

    def scores(self, query: Query) -> np.ndarray:
        row = self.history(query)
        overlap = row @ self.matrix.T
        return (overlap @ self.matrix).toarray().ravel() + self.popularity / 1e6


class SameArtistMethod(_Interactions):
    """Tracks by the artists of the query's tracks, by how many of them share the artist."""

    name = "same artist as seeds"

    def _fit(self, data: TrainData) -> None:
        super()._fit(data)
        self.by_artist = artist_matrix(data.catalog)

    def scores(self, query: Query) -> np.ndarray:
        per_artist = self.history(query) @ self.by_artist.T
        return (per_artist @ self.by_artist).toarray().ravel() + self.popularity / 1e6


class UnseenFirstMethod(SameArtistMethod):
    """A diagnostic, not a method: same artist plus half a seed's worth for a track with no
    training row, which only the standard continuation protocol rewards (see
    `evaluation.splits.warm_only`)."""

    name = "same artist, unseen-in-training first (diagnostic)"

    def scores(self, query: Query) -> np.ndarray:
        return super().scores(query) + 0.5 * (self.counts == 0)
