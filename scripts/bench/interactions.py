"""Synthetic user–track interactions over a benchmark collection, with taste structure.

No real interaction log of 160k tracks is available offline, and uniformly random histories
would leave co-occurrence, same-artist and LightFM without signal (every pair about equally
rare), which makes the personal path cheaper or dearer for reasons that have nothing to do
with users. So each user is drawn like this (all seeded by `InteractionParams.seed`):

1. History length: drawn from `lengths`, the real TidyTuesday playlist sizes (distinct
   tracks per playlist, 1–100, mean 68) when the caller reads them, else lognormal with the
   parameters fitted on them (`lognormal_mu`, `lognormal_sigma`, clipped to 1–100).
2. Popularity: every track gets a Zipf weight 1 / rank^`zipf` over a seeded random ranking
   of the catalog (a few hits, a long tail).
3. Taste: one genre (a second one with probability `second_genre`), chosen by the popularity
   mass of each genre's tracks; 1 + Poisson(`extra_artists`) favourite artists, the artists
   of tracks drawn by popularity from that genre (or genres).
4. A stream of draws, always by popularity: each comes from the favourite artists' tracks
   with probability `artist_share`, else from the user's genre(s) with probability
   `genre_share`, else from the whole catalog. The history is the stream's first distinct
   tracks, up to its length (so a favourite artist with few tracks saturates, and the other
   sources fill the rest; with a tiny catalog a history may stay shorter).

Tracks without an artist count as their own artist; without a genre, as genre "".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

OVERDRAW = 4  # draws per history slot: repeats are dropped until the history is full


@dataclass(frozen=True)
class InteractionParams:
    users: int = 20_000
    zipf: float = 0.9
    lognormal_mu: float = 4.09  # log of distinct tracks per TidyTuesday playlist: mean
    lognormal_sigma: float = 0.63  # … and standard deviation
    max_length: int = 100  # Spotify's playlist export limit in the TidyTuesday file
    second_genre: float = 0.3
    extra_artists: float = 2.0
    artist_share: float = 0.35
    genre_share: float = 0.45
    seed: int = 0


class _Sampler:
    """Draws by popularity from one subset of the catalog (cumulative weights: a draw costs
    log(n), where `rng.choice(p=…)` over 160k tracks would cost n per user)."""

    def __init__(self, members: np.ndarray, weights: np.ndarray) -> None:
        self.members = members
        self.cumulative = np.cumsum(weights[members])

    @property
    def mass(self) -> float:
        return float(self.cumulative[-1])

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        picks = np.searchsorted(self.cumulative, rng.random(n) * self.cumulative[-1], "right")
        return self.members[np.minimum(picks, len(self.members) - 1)]


def _groups(keys: Sequence[str]) -> dict[str, np.ndarray]:
    codes, names = pd.factorize(pd.Series(list(keys), dtype=object), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(n): order[bounds[i] : bounds[i + 1]] for i, n in enumerate(names)}


def generate_interactions(
    track_ids: Sequence[str],
    artists: Sequence[str | None],
    genres: Sequence[str | None],
    params: InteractionParams = InteractionParams(),
    lengths: Sequence[int] | None = None,
) -> pd.DataFrame:
    """(user_id, track_id) rows, one per distinct pair, users `user-00000`…; row i of
    `artists`/`genres` describes `track_ids[i]`."""
    n = len(track_ids)
    if not n or len(artists) != n or len(genres) != n:
        raise ValueError("need one artist and one genre (or None) per track, and some tracks")
    rng = np.random.default_rng(params.seed)
    ranks = rng.permutation(n) + 1
    weights = 1.0 / ranks.astype(np.float64) ** params.zipf
    everything = _Sampler(np.arange(n), weights)
    by_artist = _groups([a or f"\0{t}" for a, t in zip(artists, track_ids, strict=True)])
    artist_of = np.empty(n, dtype=object)
    for name, members in by_artist.items():
        artist_of[members] = name
    by_genre = {g: _Sampler(m, weights) for g, m in _groups([g or "" for g in genres]).items()}
    genre_names = sorted(by_genre)
    genre_mass = np.array([by_genre[g].mass for g in genre_names])
    if lengths is not None:
        drawn = rng.choice(np.asarray(lengths), size=params.users)
    else:
        drawn = rng.lognormal(params.lognormal_mu, params.lognormal_sigma, params.users)
    sizes = np.clip(np.rint(drawn), 1, params.max_length).astype(int)
    ids = np.asarray(track_ids, dtype=object)
    users: list[np.ndarray] = []
    tracks: list[np.ndarray] = []
    for u, size in enumerate(sizes):
        chosen = rng.choice(
            len(genre_names),
            size=1 + (rng.random() < params.second_genre),
            p=genre_mass / genre_mass.sum(),
        )
        taste = [by_genre[genre_names[g]] for g in set(chosen.tolist())]
        seeds = np.concatenate([s.draw(rng, 1 + rng.poisson(params.extra_artists)) for s in taste])
        favourites = _Sampler(
            np.concatenate([by_artist[a] for a in dict.fromkeys(artist_of[seeds])]), weights
        )
        stream = OVERDRAW * size
        source = rng.random(stream)
        from_artist = source < params.artist_share
        from_genre = ~from_artist & (source < params.artist_share + params.genre_share)
        from_genre_each = rng.integers(0, len(taste), stream)
        picks = everything.draw(rng, stream)
        picks[from_artist] = favourites.draw(rng, int(from_artist.sum()))
        for i, sampler in enumerate(taste):
            mask = from_genre & (from_genre_each == i)
            picks[mask] = sampler.draw(rng, int(mask.sum()))
        picks = pd.unique(picks)[:size]  # first draws first: the order it was "played"
        users.append(np.full(len(picks), u))
        tracks.append(picks)
    user_index = np.concatenate(users)
    return pd.DataFrame(
        {
            "user_id": [f"user-{u:05d}" for u in user_index],
            "track_id": ids[np.concatenate(tracks)],
        }
    )


def describe(frame: pd.DataFrame) -> dict[str, float]:
    """The counts a report states: users, interactions, distinct tracks, history lengths."""
    per_user = frame.groupby("user_id").size()
    return {
        "users": int(per_user.size),
        "interactions": len(frame),
        "distinct_tracks": int(frame["track_id"].nunique()),
        "history_median": float(per_user.median()),
        "history_mean": round(float(per_user.mean()), 1),
        "history_max": int(per_user.max()),
    }


def playlist_lengths(catalog_csv: Path) -> np.ndarray:
    """Distinct tracks per playlist in the TidyTuesday file: real users' history lengths."""
    rows = pd.read_csv(catalog_csv, usecols=["playlist_id", "track_id"])
    return rows.groupby("playlist_id")["track_id"].nunique().to_numpy()
