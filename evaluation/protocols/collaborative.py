"""LightFM on the TidyTuesday playlists: a hyper-parameter sweep on playlist continuation next
to the baselines, and a cold-start AUC (tracks that lost ALL their interactions, scored from
item features alone).

Genre: here a track's genre is the majority `playlist_genre` over its *training* rows only
(`evaluation.splits.with_train_genres`); the default configs give it weight 0, one row shows
what it adds. Cold-start tracks have no training row, hence never a genre.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.collab.artefact import save
from core.collab.features import DEFAULT_FEATURE_WEIGHTS
from core.collab.model import CollaborativeModel
from evaluation.methods.base import Method, Query, TrainData
from evaluation.methods.baselines import (
    CoOccurrenceMethod,
    PopularityMethod,
    RandomMethod,
    SameArtistMethod,
)
from evaluation.methods.lightfm import LightFMConfig, LightFMMethod
from evaluation.metrics import auc
from evaluation.results import Row, measure
from evaluation.splits import cold_start_split, continuation_split, with_train_genres
from indexer.catalog import read_catalog
from schemas.tracks import Track

K = 10
NO_GENRE = {**DEFAULT_FEATURE_WEIGHTS, "genre": 0.0}


@dataclass(frozen=True)
class SweepRow:
    name: str
    config: LightFMConfig = field(default_factory=lambda: LightFMConfig(feature_weights=NO_GENRE))


SWEEP = (
    SweepRow("LightFM warp, 32 comp, 20 ep, default weights (no genre)"),
    SweepRow(
        "LightFM identity only (no item features)",
        LightFMConfig(feature_weights={"identity": 1.0}),
    ),
    SweepRow(
        "LightFM artist + identity only",
        LightFMConfig(feature_weights={"identity": 1.0, "artist": 1.0}),
    ),
    SweepRow(
        "LightFM all features at equal weight (no genre)",
        LightFMConfig(feature_weights={g: 1.0 for g in NO_GENRE if g != "genre"}),
    ),
    SweepRow(
        "LightFM default + training-side genre",
        LightFMConfig(feature_weights=dict(DEFAULT_FEATURE_WEIGHTS)),
    ),
    SweepRow("LightFM bpr (else default)", LightFMConfig(loss="bpr", feature_weights=NO_GENRE)),
    SweepRow("LightFM 64 components", LightFMConfig(no_components=64, feature_weights=NO_GENRE)),
    SweepRow("LightFM 40 epochs", LightFMConfig(epochs=40, feature_weights=NO_GENRE)),
)


def load_data(shared: Path) -> tuple[list[Track], pd.DataFrame]:
    """(catalog with the leaky playlist genre dropped, (user_id, track_id, playlist_genre))."""
    path = shared / "tidytuesday_spotify_songs.csv"
    tracks = [
        t.model_copy(update={"genre": None})
        for batch in read_catalog(path, schema="tidytuesday", on_error=lambda _e: None)
        for t in batch
    ]
    rows = pd.read_csv(path, usecols=["playlist_id", "track_id", "playlist_genre"], dtype=str)
    rows = rows.dropna().drop_duplicates(["playlist_id", "track_id"])
    return tracks, rows.rename(columns={"playlist_id": "user_id"}).reset_index(drop=True)


def artefact_mb(model: CollaborativeModel) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return save(model, tmp).stat().st_size / 1e6


def continuation(
    tracks: list[Track], rows: pd.DataFrame, seed: int, threads: int, sweep: bool
) -> list[Row]:
    """P@10 and HR@10 per playlist of the baselines and the LightFM configs; a LightFM row's
    facts (train seconds, artefact MB) are in its `note`."""
    train_rows, hidden = continuation_split(rows, seed)
    data = TrainData(with_train_genres(tracks, train_rows), train_rows)
    known = train_rows.groupby("user_id")["track_id"].agg(set).to_dict()
    queries = [
        Query(u, tuple(sorted(known.get(u, set()))), frozenset(known.get(u, set())), u)
        for u in sorted(hidden)
    ]
    relevant = {u: set(h.tolist()) for u, h in hidden.items()}
    rankers: list[Method] = [
        RandomMethod(seed + 1),
        PopularityMethod(),
        CoOccurrenceMethod(),
        SameArtistMethod(),
    ]
    results = [measure(r.fit(data), queries, relevant, (K,)) for r in rankers]
    for row in SWEEP if sweep else SWEEP[:1]:
        print(f"  training {row.name} …", file=sys.stderr, flush=True)
        ranker = LightFMMethod(seed, row.config, threads=threads, name=row.name).fit(data)
        assert ranker.model is not None
        seconds = ranker.model.metadata["train_seconds"]
        note = f"{seconds:.1f} s, {artefact_mb(ranker.model):.1f} MB"
        results.append(measure(ranker, queries, relevant, (K,), note))
    return results


def cold_start(
    tracks: list[Track], rows: pd.DataFrame, seed: int, threads: int
) -> dict[str, np.ndarray]:
    """AUC per playlist of its held-out cold tracks against every other candidate
    (``all``) and against the other cold tracks only (``cold_only``), with a random and a
    Spotify-popularity baseline for each."""
    rng = np.random.default_rng(seed + 2)  # the split draws first, the random baseline next
    train_rows, held, cold = cold_start_split(rows, rng)
    ranker = LightFMMethod(seed, SWEEP[0].config, threads=threads)
    model = ranker.fit(TrainData(with_train_genres(tracks, train_rows), train_rows)).model
    assert model is not None
    index = {t: i for i, t in enumerate(model.track_ids)}
    cold_idx = np.array(sorted(index[t] for t in cold))
    pop = {t.id: float(t.popularity or 0) for t in tracks}
    spotify_pop = np.array([pop[t] for t in model.track_ids])
    out: dict[str, list[float]] = {
        k: [] for k in ("all", "cold_only", "random", "spotify_pop_cold_only")
    }
    for user, group in held.groupby("user_id"):
        if not model.has_user(str(user)):
            continue  # every track of the playlist went cold: nothing to condition on
        scores = model.score_all(str(user))
        pos = np.array([index[t] for t in group["track_id"]])
        candidates = np.ones(len(scores), dtype=bool)
        candidates[[index[t] for t in model.known_items(str(user))]] = False
        candidates[pos] = False
        cold_neg = np.setdiff1d(cold_idx, pos)
        out["all"].append(auc(scores[pos], scores[candidates]))
        out["cold_only"].append(auc(scores[pos], scores[cold_neg]))
        noise = rng.random(len(scores))
        out["random"].append(auc(noise[pos], noise[candidates]))
        out["spotify_pop_cold_only"].append(auc(spotify_pop[pos], spotify_pop[cold_neg]))
    return {k: np.array(v) for k, v in out.items()}
