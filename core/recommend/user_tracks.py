"""Who holds what: the user × track interaction matrix behind co-occurrence and popularity.

Item co-occurrence for a history H is `X.T @ (X @ h)` with X the binary user × track matrix
and h the indicator of H: one sparse product through the users who share a track with H,
so its cost grows with the interactions those users have, not with catalog² (a track × track
matrix would). Measured by `scripts/eval_ranker.py` (see its "co-occurrence cost" line). The
matrix travels in the ranker artefact, so serving needs no database scan and training can
build one from the feature part of the interactions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.recommend.artists import ArtistIndex


class UserTrackMatrix:
    def __init__(
        self,
        user_ids: Sequence[str],
        track_ids: Sequence[str],
        matrix: sp.csr_matrix,
        track_artists: Sequence[Sequence[str]] | None = None,
    ):
        """`track_artists` (one entry per track id, from the stored payloads) enables the
        co-listened artists (`artists`); without it they are unknown, not empty."""
        self.user_ids = list(user_ids)
        self.track_ids = list(track_ids)
        self.matrix = matrix.tocsr().astype(np.float32)
        self.matrix.data[:] = 1.0  # membership, not weight: a play count would swamp the sum
        self._user = {u: i for i, u in enumerate(self.user_ids)}
        self._track = {t: i for i, t in enumerate(self.track_ids)}
        self._ids = np.asarray(self.track_ids, dtype=object)
        self.counts = np.asarray(self.matrix.sum(axis=0), dtype=np.float64).ravel()
        self._by_count = np.argsort(-self.counts, kind="stable")
        self.artists = (
            ArtistIndex(self.matrix, track_artists, self.counts)
            if track_artists is not None
            else None
        )

    @classmethod
    def from_pairs(
        cls, pairs: pd.DataFrame, artists: Mapping[str, Sequence[str]] | None = None
    ) -> UserTrackMatrix:
        """From a frame with `user_id, track_id` (duplicates and weights ignored); `artists`
        maps track ids to their artists (a track it lacks has none)."""
        frame = pairs[["user_id", "track_id"]].astype(str).drop_duplicates()
        users, user_codes = np.unique(frame["user_id"].to_numpy(), return_inverse=True)
        tracks, track_codes = np.unique(frame["track_id"].to_numpy(), return_inverse=True)
        matrix = sp.csr_matrix(
            (np.ones(len(frame), np.float32), (user_codes, track_codes)),
            shape=(len(users), len(tracks)),
        )
        track_artists = None if artists is None else [artists.get(t, ()) for t in tracks]
        return cls(users.tolist(), tracks.tolist(), matrix, track_artists)

    def __len__(self) -> int:
        return len(self.track_ids)

    def has_user(self, user_id: str | None) -> bool:
        return user_id is not None and user_id in self._user

    def user_tracks(self, user_id: str | None) -> list[str]:
        if not self.has_user(user_id):
            return []
        row = self._user[user_id]  # type: ignore[index]
        start, end = self.matrix.indptr[row], self.matrix.indptr[row + 1]
        return [self.track_ids[i] for i in self.matrix.indices[start:end]]

    def columns(self, track_ids: Sequence[str]) -> np.ndarray:
        """The matrix columns of the tracks the index knows (others skipped), sorted."""
        return np.array(sorted({self._track[t] for t in track_ids if t in self._track}), np.int64)

    def most_held(self, n: int) -> np.ndarray:
        """The columns of the `n` most-held tracks (ties in column order)."""
        return self._by_count[:n].copy()

    def count(self, track_ids: Sequence[str]) -> np.ndarray:
        """Interaction counts (0 for a track nobody holds)."""
        index = np.array([self._track.get(t, -1) for t in track_ids], dtype=np.int64)
        return np.where(index >= 0, self.counts[np.maximum(index, 0)], 0.0)

    def history_cooccurrence(self, history: Sequence[str]) -> np.ndarray:
        """Per index track: how often it shares a user with a history track (the history
        itself 0). Computed once per request (`SeedQuery.cooccurrence`), which the source
        and the ranker's features share."""
        scores = np.zeros(len(self.track_ids), dtype=np.float32)
        cols = sorted({self._track[t] for t in history if t in self._track})
        if cols:
            h = np.zeros(len(self.track_ids), dtype=np.float32)
            h[cols] = 1.0
            overlap = self.matrix @ h  # per user: tracks shared with the history
            scores = np.asarray(self.matrix.T @ overlap, dtype=np.float32).ravel()
            scores[cols] = 0.0
        scores.flags.writeable = False  # shared by the request's source and features
        return scores

    def lookup(self, values: np.ndarray, track_ids: Sequence[str]) -> np.ndarray:
        """`values` (one per index track) for `track_ids`; NaN for tracks outside the index."""
        index = np.array([self._track.get(t, -1) for t in track_ids], dtype=np.int64)
        return np.where(index >= 0, values[np.maximum(index, 0)], np.nan)

    def top(self, scores: np.ndarray, n: int, exclude: AbstractSet[str]) -> list[tuple[str, float]]:
        """The n best positive scores, ties broken by popularity (deterministic, whatever the
        scores' scale: a tie at the cut is settled by popularity too)."""
        # Only the positive scores are partitioned (NaN compares False): partitioning the whole
        # index, most of it equal (-inf, 0), was the largest cost of a request at 160k tracks
        # (several sources call this; docs/performance.md).
        best = np.flatnonzero(scores > 0)
        want = min(n + len(exclude), len(best))
        if n <= 0 or want <= 0:
            return []
        s = scores[best].astype(np.float64)
        if want < len(best):
            kth = np.partition(s, len(s) - want)[len(s) - want]
            keep = s >= kth
            best, s = best[keep], s[keep]
        best = best[np.lexsort((-self.counts[best], -s))]
        out = [
            (self.track_ids[i], float(scores[i])) for i in best if self.track_ids[i] not in exclude
        ]
        return out[:n]

    def popular(self, n: int, exclude: AbstractSet[str]) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for i in self._by_count:
            if len(out) >= n or self.counts[i] <= 0:
                break
            if self.track_ids[i] not in exclude:
                out.append((self.track_ids[i], float(self.counts[i])))
        return out

    def colistened(self, history: Sequence[str], seed_artists: Sequence[str]) -> np.ndarray | None:
        """Per artist of `artists`: how co-listened it is with the artists of the history's
        tracks and of the seeds (`ArtistIndex`); None without artists."""
        if self.artists is None:
            return None
        cols = (self._track[t] for t in history if t in self._track)
        return self.artists.colistened(self.artists.history_artists(cols, seed_artists))

    def colistened_tracks(
        self,
        scores: np.ndarray,
        n: int,
        *,
        per_artist: int,
        skip_artists: set[str],
        exclude: AbstractSet[str],
    ) -> list[tuple[str, float]]:
        """The co-listened artists' most held tracks (`ArtistIndex.proposals`) as track ids."""
        assert self.artists is not None
        skip = {self._track[t] for t in exclude if t in self._track}
        found = self.artists.proposals(
            scores, n, per_artist=per_artist, skip_artists=skip_artists, skip_tracks=skip
        )
        return [(self.track_ids[t], s) for t, s in found]
