"""Artists co-listened with a history: the user × artist matrix behind the co-listened
source (`sources.colistened`) and the `artist_colisten` feature.

Two artists are co-listened when the same users hold tracks of both. Counting at the artist
level (not the track level, as item co-occurrence does) links users who share a taste but not
the exact tracks, which is what makes "listeners of X also play Y" work on a sparse log.
The score of artist b for a history whose artists are A is the cosine between b's listener
vector and the history's overlap vector o (o_u = how many of A user u plays):

    score(b) = Σ_u L[u, b] · o_u / sqrt(|L[:, b]| · Σ_u o_u²)        (≤ 1 by Cauchy–Schwarz)

so an artist everyone plays does not co-occur with everything. One sparse product through the
users who play the history's artists, like `UserTrackMatrix`'s track co-occurrence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp


class ArtistIndex:
    def __init__(
        self,
        interactions: sp.csr_matrix,
        track_artists: Sequence[Sequence[str]],
        track_counts: np.ndarray,
    ):
        """`interactions`: binary user × track; `track_artists`: each matrix column's artists;
        `track_counts`: each column's interaction count (a co-listened artist's most held
        tracks are proposed first)."""
        self.track_artists = [tuple(dict.fromkeys(a)) for a in track_artists]
        self.names = sorted({a for artists in self.track_artists for a in artists})
        self._col = {a: i for i, a in enumerate(self.names)}
        rows = [t for t, artists in enumerate(self.track_artists) for _ in artists]
        cols = [self._col[a] for artists in self.track_artists for a in artists]
        shape = (len(self.track_artists), len(self.names))
        by_track = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        listeners = (interactions @ by_track).tocsr()
        listeners.data[:] = 1.0
        self.listeners = listeners
        self.listener_counts = np.asarray(listeners.sum(axis=0), dtype=np.float64).ravel()
        # Each artist's tracks, most held first.
        by_artist = by_track.tocsc()
        self._tracks = [
            sorted(
                by_artist.indices[by_artist.indptr[c] : by_artist.indptr[c + 1]].tolist(),
                key=lambda t: (-track_counts[t], t),
            )
            for c in range(len(self.names))
        ]

    def history_artists(
        self, track_columns: Iterable[int], extra: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """The artists of the history's tracks (matrix columns) plus `extra` (the seeds'
        stored artists, for seeds the matrix does not hold), sorted."""
        names = {a for t in track_columns for a in self.track_artists[t]}
        return tuple(sorted(names | set(extra)))

    def colistened(self, artists: tuple[str, ...]) -> np.ndarray:
        """Per artist: the cosine above (the history's own artists included)."""
        scores = np.zeros(len(self.names), dtype=np.float32)
        cols = [self._col[a] for a in artists if a in self._col]
        if cols:
            a = np.zeros(len(self.names), dtype=np.float32)
            a[cols] = 1.0
            overlap = self.listeners @ a
            raw = np.asarray(self.listeners.T @ overlap, dtype=np.float64).ravel()
            held = max(float(overlap @ overlap), 1.0)
            norm = np.sqrt(np.maximum(self.listener_counts, 1.0) * held)
            scores = (raw / norm).astype(np.float32)
        scores.flags.writeable = False  # shared by the request's source and features
        return scores

    def best(self, scores: np.ndarray, artists: Sequence[str]) -> float:
        """A track's co-listen score: its best artist's (0 when none is known)."""
        return max((float(scores[self._col[a]]) for a in artists if a in self._col), default=0.0)

    def proposals(
        self,
        scores: np.ndarray,
        n: int,
        *,
        per_artist: int,
        skip_artists: set[str],
        skip_tracks: set[int],
    ) -> list[tuple[int, float]]:
        """Up to `n` (track column, artist score): the best co-listened artists outside
        `skip_artists`, each with its `per_artist` most held tracks, best artist first."""
        out: list[tuple[int, float]] = []
        order = np.argsort(-scores, kind="stable")
        for col in order:
            if len(out) >= n or scores[col] <= 0:
                break
            if self.names[col] in skip_artists:
                continue
            tracks = [t for t in self._tracks[col] if t not in skip_tracks][:per_artist]
            out += [(t, float(scores[col])) for t in tracks[: n - len(out)]]
        return out
