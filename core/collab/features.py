"""Track metadata → LightFM item-feature rows: what lets a track nobody played get a score.

Items are described by metadata features (artists, genre, decade, explicit, popularity bucket,
quantile-binned audio features) so a track with no interactions still scores through the
features it shares with played ones (cold start). Only tracks with interactions get an identity
feature on top. The rows are built here once, for training and for tracks added after it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from schemas.tracks import Track

__all__ = [
    "AUDIO_BINNED",
    "AUDIO_BINS",
    "DEFAULT_FEATURE_WEIGHTS",
    "FEATURE_GROUPS",
    "Featurizer",
    "normalized_csr",
]

FEATURE_GROUPS: tuple[str, ...] = ("artist", "genre", "decade", "explicit", "popularity", "audio")
# Relative weight of one feature of each group in an item's row (rows are then normalized).
# Broad features (a decade, an audio quintile: thousands of tracks each) get small weights: at
# equal weight they dominate the representation and make every track look alike (the
# feature-weight sweep of scripts/eval_collaborative.py measures the loss); they stay because
# they are the only signal for a cold track by an unseen artist. "audio" is per binned feature.
# Genre could not be validated there (the evaluation data's genre is playlist-derived).
DEFAULT_FEATURE_WEIGHTS: dict[str, float] = {
    "identity": 1.0,
    "artist": 1.0,
    "genre": 0.1,
    "decade": 0.05,
    "explicit": 0.05,
    "popularity": 0.05,
    "audio": 0.02,
}
AUDIO_BINNED: tuple[str, ...] = (
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "tempo",
    "speechiness",
    "instrumentalness",
)
AUDIO_BINS = 5


@dataclass(frozen=True)
class Featurizer:
    """Track → feature names, with audio bin edges fitted on the training catalog.

    Kept in the artefact so tracks added to the catalog after training are featurized the
    same way (`CollaborativeModel.score_tracks`). ``reserve_identity``: a row without an
    identity column (a cold track) is normalized as if it had one, so its metadata features
    carry the weights they have in a warm track's row and the missing identity contributes
    nothing. Needed when only warm tracks train (see `core.collab.training`): normalized to
    one, a cold track's generic features (decade, audio bins) would weigh 10–50× what they
    weigh in any trained row, and such tracks filled 99.6% of the top 10s in
    scripts/compare_lightfm_items.py. Off for models whose cold items trained without it.
    """

    weights: dict[str, float]
    audio_edges: dict[str, list[float]]
    reserve_identity: bool = False

    @classmethod
    def fit(
        cls, tracks: Sequence[Track], weights: Mapping[str, float], reserve_identity: bool = False
    ) -> Featurizer:
        unknown = set(weights) - {"identity", *FEATURE_GROUPS}
        if unknown:
            raise ValueError(
                f"unknown feature groups {sorted(unknown)}; known: identity, {FEATURE_GROUPS}"
            )
        if any(not math.isfinite(w) or w < 0 for w in weights.values()):
            raise ValueError(f"feature weights must be finite and >= 0: {dict(weights)}")
        used = {g: float(w) for g, w in weights.items() if w > 0}
        edges: dict[str, list[float]] = {}
        if "audio" in used:
            quantiles = np.linspace(0, 1, AUDIO_BINS + 1)[1:-1]
            for name in AUDIO_BINNED:
                values = np.array(
                    [t.audio[name] for t in tracks if t.audio and name in t.audio], dtype=float
                )
                values = values[np.isfinite(values)]
                if values.size:
                    edges[name] = np.unique(np.quantile(values, quantiles)).tolist()
        return cls(used, edges, reserve_identity)

    @property
    def identity_weight(self) -> float:
        return self.weights.get("identity", 0.0)

    def features(self, track: Track) -> list[tuple[str, float]]:
        """(feature name, weight) pairs of the track's metadata (identity excluded)."""
        names: list[tuple[str, str]] = []
        if "artist" in self.weights:
            names += [("artist", f"artist:{a.strip().lower()}") for a in track.artists if a.strip()]
        if "genre" in self.weights and track.genre:
            names.append(("genre", f"genre:{track.genre.strip().lower()}"))
        if "decade" in self.weights and track.year:
            names.append(("decade", f"decade:{track.year // 10 * 10}"))
        if "explicit" in self.weights and track.explicit is not None:
            names.append(("explicit", f"explicit:{int(track.explicit)}"))
        if "popularity" in self.weights and track.popularity is not None:
            names.append(("popularity", f"popularity:{min(max(track.popularity, 0), 100) // 10}"))
        if track.audio:
            for name, edges in self.audio_edges.items():
                value = track.audio.get(name)
                if value is not None and math.isfinite(value):
                    bin_ = int(np.searchsorted(edges, value, side="right"))
                    names.append(("audio", f"{name}:q{bin_}"))
        return [(name, self.weights[group]) for group, name in names]

    def rows(
        self,
        tracks: Sequence[Track],
        columns: Mapping[str, int],
        n_columns: int,
        n_identity: int = 0,
    ) -> sp.csr_matrix:
        """Normalized feature rows in a fixed vocabulary (feature name → column).

        Features outside the vocabulary were never trained and are dropped, so a track with
        none of them scores by the user's bias alone. The first ``n_identity`` tracks (those
        with interactions) also get their identity column, ``i`` for track ``i``.
        """
        identity = self.identity_weight
        rows = [
            ([(i, identity)] if i < n_identity and identity > 0 else [])
            + [(columns[f], w) for f, w in self.features(track) if f in columns]
            for i, track in enumerate(tracks)
        ]
        reserved = np.zeros(len(rows))
        if self.reserve_identity:
            reserved[n_identity:] = identity
        return normalized_csr(rows, n_columns, reserved)


def normalized_csr(
    rows: Sequence[Sequence[tuple[int, float]]],
    n_columns: int,
    reserved: np.ndarray | None = None,
) -> sp.csr_matrix:
    """Rows summing to one (LightFM's usual practice): a track with many artists or features
    must not get a larger-norm representation, and so larger scores, than one with few.
    ``reserved``: weight per row counted in its sum without a column (a missing identity)."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    total = int(indptr[-1])
    indices = np.fromiter((c for r in rows for c, _ in r), dtype=np.int32, count=total)
    data = np.fromiter((w for r in rows for _, w in r), dtype=np.float64, count=total)
    sums = np.bincount(np.repeat(np.arange(len(rows)), lengths), weights=data, minlength=len(rows))
    if reserved is not None:
        sums = sums + reserved
    sums = np.where(sums > 0, sums, 1.0)
    data = (data / np.repeat(sums, lengths)).astype(np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_columns))
    matrix.sum_duplicates()
    return matrix
