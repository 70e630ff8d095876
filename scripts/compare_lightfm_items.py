"""Which tracks should be LightFM's items: those with interactions, or the whole catalog?

Issue 15, cause 1: WARP draws its negatives from the item set, and in the TidyTuesday catalog
most tracks are in no training playlist. This trains the product's model twice on one split,
differing only in `core.collab.training.train(items=...)`: "catalog" (every catalog track an
item, the former training) and "warm" (the tracks with training interactions; cold tracks
scored from their metadata features). Split: scripts/eval_collaborative.py's playlist
continuation (every playlist with >= 10 tracks has 20% of its tracks hidden, seeded); genre
left out (it is the playlist's); training single-threaded, so a seed reproduces the numbers.

Three views of the same two models, P@10 and NDCG@10 with 95% bootstrap intervals over
playlists and the interval of the paired per-playlist difference (warm − catalog):
- overall: the whole catalog ranked (training tracks of the playlist excluded), every hidden
  track relevant;
- warm hidden: the same rankings, only hidden tracks that have a training row relevant
  (playlists with at least one);
- warm catalog: only tracks with a training row ranked, warm hidden tracks relevant (the
  warm-only protocol of scripts/evaluate.py).
"unseen@10" is the share of the top 10 that no training playlist holds: in this data a hidden
track is often one whose every membership was hidden, so "unseen" marks answers (see
scripts/evaluate.py `warm_only`) and the overall view rewards ranking unseen tracks high.

    python scripts/compare_lightfm_items.py --shared ../shared/data --seeds 7
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.collab.model import CollaborativeModel  # noqa: E402
from core.collab.training import ItemSet, train  # noqa: E402
from evaluation.metrics import bootstrap_ci, ndcg_at_k, precision_at_k  # noqa: E402
from evaluation.protocols.collaborative import load_data  # noqa: E402
from evaluation.splits import continuation_split  # noqa: E402
from schemas.tracks import Track  # noqa: E402

K = 10
ITEM_SETS: tuple[ItemSet, ...] = ("catalog", "warm")
VIEWS = ("overall", "warm hidden", "warm catalog")
METRICS = {"P@10": precision_at_k, "NDCG@10": ndcg_at_k}

# view -> item set -> metric -> per-playlist values (same playlist order in both item sets)
Results = dict[str, dict[str, dict[str, np.ndarray]]]


def top_k(model: CollaborativeModel, user: str, warm_only: bool) -> list[str]:
    """The model's top K for the user, training tracks excluded, optionally warm tracks only."""
    if not warm_only:
        return [t for t, _ in model.recommend(user, K)]
    scores = model.score_all(user)[: model.n_warm].astype(np.float64)
    scores[[i for i in map(model.track_ids.index, model.known_items(user))]] = -np.inf
    best = np.argsort(-scores, kind="stable")[:K]
    return [model.track_ids[i] for i in best]


def compare(
    tracks: Sequence[Track], rows: pd.DataFrame, seed: int, epochs: int = 20, threads: int = 1
) -> tuple[Results, dict[str, float]]:
    """Per-playlist metrics of both item sets in every view; the top-10 unseen shares and the
    training seconds."""
    train_rows, hidden = continuation_split(rows, seed)
    warm = set(train_rows["track_id"])
    users = sorted(u for u in hidden if u in set(train_rows["user_id"]))
    results: Results = {view: {} for view in VIEWS}
    unseen: dict[str, float] = {}
    for items in ITEM_SETS:
        model = train(
            train_rows, tracks, epochs=epochs, num_threads=threads, seed=seed, items=items
        )
        ranked = {u: top_k(model, u, warm_only=False) for u in users}
        ranked_warm = {u: top_k(model, u, warm_only=True) for u in users}
        unseen[items] = float(np.mean([t not in warm for u in users for t in ranked[u]]))
        unseen[f"{items} train s"] = model.metadata["train_seconds"]
        views = {
            "overall": [(ranked[u], set(hidden[u])) for u in users],
            "warm hidden": [(ranked[u], set(hidden[u]) & warm) for u in users],
            "warm catalog": [(ranked_warm[u], set(hidden[u]) & warm) for u in users],
        }
        for view, pairs in views.items():
            pairs = [(r, h) for r, h in pairs if h]
            results[view][items] = {
                name: np.array([fn(r, h, K) for r, h in pairs]) for name, fn in METRICS.items()
            }
    return results, unseen


def report(results: Results, unseen: dict[str, float], seed: int, rounds: int) -> str:
    def ci(values: np.ndarray, sign: str = "") -> str:
        low, high = bootstrap_ci(values, rounds=rounds, seed=seed)
        return f"{values.mean():{sign}.4f} [{low:{sign}.4f}, {high:{sign}.4f}]"

    lines = [
        f"### seed {seed}",
        "",
        "| view | playlists | metric | catalog items | warm items | warm − catalog (paired) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for view, by_items in results.items():
        old, new = by_items["catalog"], by_items["warm"]
        for metric in METRICS:
            lines.append(
                f"| {view} | {len(old[metric])} | {metric} | {ci(old[metric])} | "
                f"{ci(new[metric])} | {ci(new[metric] - old[metric], '+')} |"
            )
    lines.append("")
    lines.append(
        "unseen@10 (overall rankings) and training seconds: "
        + ", ".join(f"{name} {value:.3f}" for name, value in unseen.items())
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help=">1 is faster, not reproducible")
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args(argv)
    tracks, rows = load_data(args.shared)
    for seed in args.seeds:
        results, unseen = compare(tracks, rows, seed, args.epochs, args.threads)
        print(report(results, unseen, seed, args.bootstrap), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
