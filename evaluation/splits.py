"""Playlist-continuation splits, seeded: the standard protocol, the warm-only one, cold start.

Each playlist is a user. A playlist with at least `MIN_TRACKS` tracks has `HIDE` of them
hidden (the answers); the rest is the training side, which is all any method may learn from.
Genre: the file's genre describes the playlist, so a track-level genre, when one is wanted
at all (`with_train_genres`), is derived from training rows only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import scipy.sparse as sp

from schemas.tracks import Track

MIN_TRACKS = 10
HIDE = 0.2
COLD_SHARE = 0.1


@dataclass
class Split:
    """Training rows (user_id, track_id), the hidden tracks of every evaluated playlist, the
    visible ones of every playlist, and the catalog every method ranks (sorted ids)."""

    train_rows: pd.DataFrame
    hidden: dict[str, set[str]]
    known: dict[str, set[str]]
    catalog_ids: list[str]

    @property
    def users(self) -> list[str]:
        return sorted(self.hidden)


def continuation_split(rows: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(training rows, hidden track ids by playlist): HIDE of each long-enough playlist."""
    rng = np.random.default_rng(seed)
    hidden_mask = np.zeros(len(rows), dtype=bool)
    for _, index in rows.groupby("user_id", sort=True).indices.items():
        if len(index) >= MIN_TRACKS:
            chosen = rng.permutation(index)[: round(HIDE * len(index))]
            hidden_mask[chosen] = True
    # pandas-stubs type agg's callable as returning a scalar; an array per group is valid.
    hidden = rows[hidden_mask].groupby("user_id")["track_id"].agg(lambda s: s.to_numpy())  # type: ignore[type-var]
    return rows[~hidden_mask].reset_index(drop=True), cast(
        "dict[str, np.ndarray]", hidden.to_dict()
    )


def playlist_split(
    tidy: pd.DataFrame, rows: pd.DataFrame, seed: int, playlists: int | None = None
) -> tuple[Split, pd.DataFrame]:
    """The standard protocol; `playlists` evaluates a seeded draw of whole playlists and
    restricts the catalog (and the returned file rows) to their tracks (quick runs)."""
    if playlists is not None:
        sizes = rows.groupby("user_id").size()
        eligible = sorted(sizes[sizes >= MIN_TRACKS].index)
        chosen = set(np.random.default_rng(seed).permutation(eligible)[:playlists])
        rows = rows[rows["user_id"].isin(chosen)].reset_index(drop=True)
        tidy = tidy[tidy["track_id"].isin(set(rows["track_id"]))]
    train_rows, hidden = continuation_split(rows, seed)
    known = cast(
        "dict[str, set[str]]", train_rows.groupby("user_id")["track_id"].agg(set).to_dict()
    )
    split = Split(
        train_rows,
        {str(u): set(v.tolist()) for u, v in hidden.items()},
        known,
        sorted(tidy["track_id"].unique()),
    )
    return split, tidy


def warm_only(split: Split, tidy: pd.DataFrame) -> tuple[Split, pd.DataFrame]:
    """The same split with every track that has no training row removed from the catalog.

    In this data every track is in some playlist, so a track with no training row is one
    whose every membership was hidden: "never seen in training" then marks the answers
    (most hidden tracks are such tracks, few catalog tracks are), and a model that ranks
    unseen tracks high profits from the protocol, not from taste. Here that cannot happen.
    """
    warm = set(split.train_rows["track_id"])
    hidden = {u: h & warm for u, h in split.hidden.items() if h & warm}
    return (
        Split(split.train_rows, hidden, split.known, sorted(warm)),
        tidy[tidy["track_id"].isin(warm)],
    )


def cold_start_split(
    rows: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """(training rows, held-out rows, cold tracks): COLD_SHARE of the tracks lose ALL their
    interactions, so a model can only score them from item features."""
    all_ids = np.array(sorted(rows["track_id"].unique()))
    cold = set(rng.choice(all_ids, size=round(COLD_SHARE * len(all_ids)), replace=False))
    is_cold = rows["track_id"].isin(cold).to_numpy()
    return rows[~is_cold].reset_index(drop=True), rows[is_cold], cold


def with_train_genres(tracks: Sequence[Track], train_rows: pd.DataFrame) -> list[Track]:
    """Each track's majority `playlist_genre` over its training rows (ties alphabetical); a
    track with no training row gets none. Needs a `playlist_genre` column in `train_rows`."""
    counts = train_rows.groupby(["track_id", "playlist_genre"]).size().reset_index(name="n")
    counts = counts.sort_values(["track_id", "n", "playlist_genre"], ascending=[True, False, True])
    genre = counts.drop_duplicates("track_id").set_index("track_id")["playlist_genre"].to_dict()
    return [t.model_copy(update={"genre": genre.get(t.id)}) for t in tracks]


def train_matrix(
    train_rows: pd.DataFrame, track_ids: Sequence[str]
) -> tuple[sp.csr_matrix, dict[str, int]]:
    """User × track incidence of the training rows over `track_ids` (rows outside dropped)."""
    track_index = {t: i for i, t in enumerate(track_ids)}
    rows = train_rows[train_rows["track_id"].isin(track_index)]
    users = sorted(train_rows["user_id"].unique())
    user_index = {u: i for i, u in enumerate(users)}
    matrix = sp.csr_matrix(
        (
            np.ones(len(rows), dtype=np.float32),
            (
                rows["user_id"].map(user_index).to_numpy(),
                rows["track_id"].map(track_index).to_numpy(),
            ),
        ),
        shape=(len(users), len(track_ids)),
    )
    return matrix, user_index


def artist_matrix(tracks: Sequence[Track]) -> sp.csr_matrix:
    """Artist × track incidence, for the no-learning "more by the same artists" baseline."""
    names: dict[str, int] = {}
    rows, cols = [], []
    for col, track in enumerate(tracks):
        for artist in {a.strip().lower() for a in track.artists if a.strip()}:
            rows.append(names.setdefault(artist, len(names)))
            cols.append(col)
    data = np.ones(len(rows), dtype=np.float32)
    return sp.csr_matrix((data, (rows, cols)), shape=(len(names), len(tracks)))
