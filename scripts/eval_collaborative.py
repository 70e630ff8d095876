"""Evaluate the LightFM hybrid on the real TidyTuesday playlists (each playlist = one user).

(a) Playlist continuation: every playlist with >= 10 tracks has 20% of its tracks hidden
    (seeded); the model trains on the rest and ranks the whole catalog (training tracks of the
    playlist excluded). P@10 / HR@10 with 95% bootstrap CIs over playlists, next to random,
    popularity and item co-occurrence baselines on the same split.
(b) Cold start: 10% of the tracks lose ALL their interactions; for every playlist that had one
    of them, AUC of those tracks against every other candidate track, scored from item
    features only (they have no identity feature).

Genre: the file's genre belongs to the playlist, so a track's genre here is the majority
`playlist_genre` over its *training* rows only (ties alphabetical); a track with no training
row has no genre. Cold-start tracks therefore never carry a genre.

    python scripts/eval_collaborative.py --shared ../shared/data
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.collab.artefact import save  # noqa: E402
from core.collab.features import DEFAULT_FEATURE_WEIGHTS  # noqa: E402
from core.collab.model import CollaborativeModel  # noqa: E402
from core.collab.training import train  # noqa: E402
from evaluation.metrics import bootstrap_ci  # noqa: E402
from indexer.catalog import read_catalog  # noqa: E402
from schemas.tracks import Track  # noqa: E402

K = 10
MIN_TRACKS = 10
HIDE = 0.2
COLD_SHARE = 0.1


# Genre is left out (weight 0) except in the one row that shows what training-side genre does.
NO_GENRE = {**DEFAULT_FEATURE_WEIGHTS, "genre": 0.0}


@dataclass(frozen=True)
class Config:
    name: str
    loss: str = "warp"
    no_components: int = 32
    epochs: int = 20
    feature_weights: dict[str, float] = field(default_factory=lambda: dict(NO_GENRE))


SWEEP = (
    Config("LightFM warp, 32 comp, 20 ep, default weights (no genre)"),
    Config("LightFM identity only (no item features)", feature_weights={"identity": 1.0}),
    Config("LightFM artist + identity only", feature_weights={"identity": 1.0, "artist": 1.0}),
    Config(
        "LightFM all features at equal weight (no genre)",
        feature_weights={g: 1.0 for g in NO_GENRE if g != "genre"},
    ),
    Config("LightFM default + training-side genre", feature_weights=dict(DEFAULT_FEATURE_WEIGHTS)),
    Config("LightFM bpr (else default)", loss="bpr"),
    Config("LightFM 64 components", no_components=64),
    Config("LightFM 40 epochs", epochs=40),
)


@dataclass
class Result:
    name: str
    per_user: np.ndarray  # P@10 per evaluated playlist
    hits: np.ndarray  # HR@10 per evaluated playlist
    train_seconds: float = float("nan")
    model_mb: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)


def fmt(values: np.ndarray, rng: np.random.Generator, n: int, digits: int = 4) -> str:
    low, high = bootstrap_ci(values, rounds=n, seed=rng)
    return f"{values.mean():.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def load_data(shared: Path) -> tuple[list[Track], pd.DataFrame]:
    path = shared / "tidytuesday_spotify_songs.csv"
    # The catalog reader fills `genre` from the (leaky) playlist genre: drop it here.
    tracks = [
        t.model_copy(update={"genre": None})
        for batch in read_catalog(path, schema="tidytuesday", on_error=lambda _e: None)
        for t in batch
    ]
    rows = pd.read_csv(path, usecols=["playlist_id", "track_id", "playlist_genre"], dtype=str)
    rows = rows.dropna().drop_duplicates(["playlist_id", "track_id"])
    return tracks, rows.rename(columns={"playlist_id": "user_id"}).reset_index(drop=True)


def with_train_genres(tracks: Sequence[Track], train_rows: pd.DataFrame) -> list[Track]:
    counts = train_rows.groupby(["track_id", "playlist_genre"]).size().reset_index(name="n")
    counts = counts.sort_values(["track_id", "n", "playlist_genre"], ascending=[True, False, True])
    genre = counts.drop_duplicates("track_id").set_index("track_id")["playlist_genre"].to_dict()
    return [t.model_copy(update={"genre": genre.get(t.id)}) for t in tracks]


def continuation_split(rows: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    hidden_mask = np.zeros(len(rows), dtype=bool)
    for _, index in rows.groupby("user_id", sort=True).indices.items():
        if len(index) >= MIN_TRACKS:
            chosen = rng.permutation(index)[: round(HIDE * len(index))]
            hidden_mask[chosen] = True
    hidden = rows[hidden_mask].groupby("user_id")["track_id"].agg(lambda s: s.to_numpy())
    return rows[~hidden_mask].reset_index(drop=True), hidden.to_dict()


def train_matrix(
    train_rows: pd.DataFrame, track_ids: Sequence[str]
) -> tuple[sp.csr_matrix, dict[str, int]]:
    track_index = {t: i for i, t in enumerate(track_ids)}
    users = sorted(train_rows["user_id"].unique())
    user_index = {u: i for i, u in enumerate(users)}
    matrix = sp.csr_matrix(
        (
            np.ones(len(train_rows), dtype=np.float32),
            (
                train_rows["user_id"].map(user_index).to_numpy(),
                train_rows["track_id"].map(track_index).to_numpy(),
            ),
        ),
        shape=(len(users), len(track_ids)),
    )
    return matrix, user_index


def evaluate_ranker(
    name: str,
    score_user: Callable[[str], np.ndarray],
    hidden: dict[str, np.ndarray],
    known: Callable[[str], np.ndarray],
    track_index: dict[str, int],
) -> Result:
    precision, hits = [], []
    for user, tracks in sorted(hidden.items()):
        scores = np.asarray(score_user(user), dtype=np.float64).copy()
        scores[known(user)] = -np.inf
        top = np.argpartition(-scores, K)[:K]
        found = len({track_index[t] for t in tracks} & set(top.tolist()))
        precision.append(found / K)
        hits.append(float(found > 0))
    return Result(name, np.array(precision), np.array(hits))


def run_continuation(
    tracks: list[Track], rows: pd.DataFrame, args: argparse.Namespace
) -> tuple[list[Result], int]:
    train_rows, hidden = continuation_split(rows, args.seed)
    tracks = with_train_genres(tracks, train_rows)
    catalog_ids = [t.id for t in tracks]
    track_index = {t: i for i, t in enumerate(catalog_ids)}
    matrix, user_index = train_matrix(train_rows, catalog_ids)

    def known(user: str) -> np.ndarray:
        return matrix[user_index[user]].indices

    counts = np.asarray(matrix.sum(axis=0)).ravel()
    spotify_pop = np.array([t.popularity or 0 for t in tracks], dtype=np.float64)
    popularity = counts + spotify_pop / 1000  # training count, ties by Spotify popularity
    rng = np.random.default_rng(args.seed + 1)
    results = [
        evaluate_ranker(
            "random", lambda _u: rng.random(len(catalog_ids)), hidden, known, track_index
        ),
        evaluate_ranker(
            "popularity (train count)", lambda _u: popularity, hidden, known, track_index
        ),
    ]
    cooc = matrix @ matrix.T  # user × user overlap

    def cooc_scores(user: str) -> np.ndarray:
        row = user_index[user]
        return (cooc[row] @ matrix).toarray().ravel() + popularity / 1e6

    results.append(evaluate_ranker("item co-occurrence", cooc_scores, hidden, known, track_index))
    by_artist = artist_matrix(tracks)

    def artist_scores(user: str) -> np.ndarray:
        seeds_per_artist = matrix[user_index[user]] @ by_artist.T
        return (seeds_per_artist @ by_artist).toarray().ravel() + popularity / 1e6

    results.append(
        evaluate_ranker("same artist as seeds", artist_scores, hidden, known, track_index)
    )
    configs = SWEEP if args.sweep else SWEEP[:1]
    for config in configs:
        print(f"  training {config.name} …", file=sys.stderr, flush=True)
        model = fit(config, train_rows, tracks, args)
        order = np.array([track_index[t] for t in model.track_ids])

        def model_scores(
            user: str, m: CollaborativeModel = model, o: np.ndarray = order
        ) -> np.ndarray:
            scores = np.empty(len(o))
            scores[o] = m.score_all(user)
            return scores

        result = evaluate_ranker(config.name, model_scores, hidden, known, track_index)
        result.train_seconds = model.metadata["train_seconds"]
        result.model_mb = artefact_mb(model)
        results.append(result)
    return results, len(catalog_ids)


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


def fit(
    config: Config, train_rows: pd.DataFrame, tracks: list[Track], args: argparse.Namespace
) -> CollaborativeModel:
    return train(
        train_rows,
        tracks,
        loss=config.loss,
        no_components=config.no_components,
        epochs=config.epochs,
        feature_weights=config.feature_weights,
        num_threads=args.threads,
        seed=args.seed,
    )


def artefact_mb(model: CollaborativeModel) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return save(model, tmp).stat().st_size / 1e6


def user_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Probability a held-out positive outscores a negative (ties count half)."""
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return float(((below + 0.5 * ties) / len(neg)).mean())


def run_cold_start(
    tracks: list[Track], rows: pd.DataFrame, args: argparse.Namespace
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(args.seed + 2)
    all_ids = np.array(sorted(rows["track_id"].unique()))
    cold = set(rng.choice(all_ids, size=round(COLD_SHARE * len(all_ids)), replace=False))
    is_cold = rows["track_id"].isin(cold).to_numpy()
    train_rows = rows[~is_cold].reset_index(drop=True)
    held = rows[is_cold]
    tracks = with_train_genres(tracks, train_rows)
    model = fit(SWEEP[0], train_rows, tracks, args)
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
        out["all"].append(user_auc(scores[pos], scores[candidates]))
        out["cold_only"].append(user_auc(scores[pos], scores[cold_neg]))
        noise = rng.random(len(scores))
        out["random"].append(user_auc(noise[pos], noise[candidates]))
        out["spotify_pop_cold_only"].append(user_auc(spotify_pop[pos], spotify_pop[cold_neg]))
    print(
        f"  cold start: {len(cold)} tracks held out ({len(held)} interactions, "
        f"{len(out['all'])} playlists evaluated), model trained in "
        f"{model.metadata['train_seconds']:.1f} s",
        file=sys.stderr,
    )
    return {k: np.array(v) for k, v in out.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument(
        "--no-sweep", dest="sweep", action="store_false", help="default config only"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tracks, rows = load_data(args.shared)
    rng = np.random.default_rng(args.seed + 3)

    results, n_items = run_continuation(tracks, rows, args)
    print(
        f"\n### Playlist continuation ({len(results[0].per_user)} playlists, {n_items} tracks, "
        f"K={K}, seed {args.seed})\n"
    )
    print("| method | P@10 [95% CI] | HR@10 [95% CI] | train s | artefact MB |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        train_s = "" if np.isnan(r.train_seconds) else f"{r.train_seconds:.1f}"
        size = "" if np.isnan(r.model_mb) else f"{r.model_mb:.1f}"
        print(
            f"| {r.name} | {fmt(r.per_user, rng, args.bootstrap)} | "
            f"{fmt(r.hits, rng, args.bootstrap, 3)} | {train_s} | {size} |"
        )
    artist = next(r for r in results if r.name == "same artist as seeds")
    best = next(r for r in results if r.name == SWEEP[0].name)
    print(
        f"\nPaired difference {best.name} − same artist, P@10: "
        f"{fmt(best.per_user - artist.per_user, rng, args.bootstrap)}"
    )
    print(
        "Reference (data README, same protocol, another split): co-occurrence 0.0172, "
        "audio kNN 0.0159, popularity 0.0028, random 0.0004."
    )

    auc = run_cold_start(tracks, rows, args)
    print(f"\n### Cold start ({len(auc['all'])} playlists, AUC per playlist, 95% CI)\n")
    print("| negatives | model AUC | baseline AUC |")
    print("| --- | --- | --- |")
    print(
        f"| all catalog tracks not in the playlist's training side | "
        f"{fmt(auc['all'], rng, args.bootstrap, 3)} | "
        f"random {fmt(auc['random'], rng, args.bootstrap, 3)} |"
    )
    print(
        f"| other cold tracks only | {fmt(auc['cold_only'], rng, args.bootstrap, 3)} | "
        f"Spotify popularity {fmt(auc['spotify_pop_cold_only'], rng, args.bootstrap, 3)} |"
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
