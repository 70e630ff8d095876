"""How the learned ranker's training choices rank held-out label users: one pooled training
set, several ways to fit on it, paired.

    python scripts/tune_ranker_training.py --data-dir /work/bench/g2-n160000-m16-efc100-none \
        --collection bench --interactions \
        /work/bench/g2-n160000-m16-efc100-none/interactions-u20000-s0.csv \
        --users 4000 --cache /tmp/ranker-pools.npz

Pools `--users` label users once through `musicrec train`'s own code
(`core.recommend.training.prepare_training` and `pool_users`, every negative kept; cached in
`--cache`), sets `--valid` of them aside, and fits each variant of `VARIANTS` on a number of
the others (their negatives sampled as in training). Each fit is scored by NDCG@10 over the
whole candidate pools of the set-aside users (the labels of `split_interactions`: training
data, never evaluation data), and compared with the first variant user by user (mean difference
± its standard error). Prints a markdown table; the numbers go to docs/ranker-training.md with
the command.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from bench.machine import load_text

from core.collab.training import train
from core.recommend.factory import build_recommender
from core.recommend.training import (
    TrainingSet,
    fit_booster,
    pool_users,
    prepare_training,
    ranker_params,
)
from core.store import open_store
from jobs.train import collection_tracks
from schemas.settings import load_settings

#: name -> (training users, negatives per user, RankerParams overrides).
VARIANTS: dict[str, tuple[int, int, dict[str, Any]]] = {
    "1,600 users, rate 0.1": (1600, 150, {"learning_rate": 0.1, "lambda_l2": 0.0}),
    "3,000 users, rate 0.1": (3000, 150, {"learning_rate": 0.1, "lambda_l2": 0.0}),
    "1,600 users, rate 0.05": (1600, 150, {"learning_rate": 0.05, "lambda_l2": 0.0}),
    "3,000 users, rate 0.05": (3000, 150, {"learning_rate": 0.05, "lambda_l2": 0.0}),
    "3,000 users, rate 0.05, L2 10 (default)": (3000, 150, {}),
    "1,600 users, rate 0.05, L2 10": (1600, 150, {}),
    "3,000 users, rate 0.05, L2 10, 400 negatives": (3000, 400, {}),
}


def pooled(args: argparse.Namespace) -> TrainingSet:
    if args.cache and args.cache.exists():
        z = np.load(args.cache, allow_pickle=False)
        return TrainingSet(
            z["x"], z["y"], z["groups"].tolist(), z["users"].tolist(), [], tuple(z["features"])
        )
    settings = load_settings(data_dir=args.data_dir, collection=args.collection)
    store = open_store(settings)
    catalog = collection_tracks(store)
    pairs = pd.read_csv(args.interactions, dtype=str)
    params = replace(
        ranker_params(settings), max_users=args.users, max_negatives=10**9, threads=args.threads
    )
    say = partial(print, flush=True)
    prepared = prepare_training(
        pairs,
        build_recommender(settings, store),
        lambda part: train(part, catalog, num_threads=args.threads, seed=settings.lightfm_seed),
        params,
        say,
        cf=settings,
    )
    data = pool_users(prepared, params, say)
    store.close()
    if args.cache:
        np.savez(
            args.cache,
            x=data.x,
            y=data.y,
            groups=np.array(data.groups),
            users=np.array(data.users),
            features=np.array(data.features),
        )
    return data


def subset(data: TrainingSet, starts: np.ndarray, users: np.ndarray, negatives: int) -> TrainingSet:
    rng = np.random.default_rng(0)
    rows = []
    for u in sorted(users):
        y = data.y[starts[u] : starts[u + 1]]
        neg = np.flatnonzero(y == 0)
        if len(neg) > negatives:
            neg = rng.choice(neg, negatives, replace=False)
        rows.append(starts[u] + np.sort(np.concatenate([np.flatnonzero(y), neg])))
    idx = np.concatenate(rows)
    groups = [len(r) for r in rows]
    return TrainingSet(data.x[idx], data.y[idx], groups, [], [], data.features)


def ndcg_at_10(booster: lgb.Booster, data: TrainingSet, starts: np.ndarray, users: np.ndarray):
    discount = 1 / np.log2(np.arange(2, 12))
    out = []
    for u in users:
        y = data.y[starts[u] : starts[u + 1]]
        top = np.argsort(-booster.predict(data.x[starts[u] : starts[u + 1]]), kind="stable")[:10]
        out.append((y[top] * discount[: len(top)]).sum() / discount[: min(int(y.sum()), 10)].sum())
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--interactions", type=Path, required=True)
    parser.add_argument("--users", type=int, default=4000, help="label users pooled")
    parser.add_argument("--valid", type=int, default=800, help="of them, set aside")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="the pooled rows (.npz), reused if present")
    args = parser.parse_args()
    load = load_text()
    data = pooled(args)
    starts = np.concatenate([[0], np.cumsum(data.groups)])
    order = np.random.default_rng(123).permutation(len(data.groups))
    valid, rest = order[: args.valid], order[args.valid :]
    print(
        f"{len(data.groups)} users pooled ({len(data.y)} rows, {int(data.y.sum())} positives); "
        f"{len(valid)} set aside; {load} at start"
    )
    print("| variant | NDCG@10 (set-aside pools) | − first, paired | rounds | leaves | fit s |")
    print("|---|---|---|---|---|---|")
    first = None
    base = replace(ranker_params(load_settings(data_dir=args.data_dir)), threads=args.threads)
    for name, (users, negatives, overrides) in VARIANTS.items():
        started = time.perf_counter()
        chosen = rest[: min(users, len(rest))]
        booster, info = fit_booster(
            subset(data, starts, chosen, negatives), replace(base, **overrides)
        )
        scores = ndcg_at_10(booster, data, starts, valid)
        first = scores if first is None else first
        d = scores - first
        print(
            f"| {name} ({len(chosen)}) | {scores.mean():.4f} | {d.mean():+.4f} ± "
            f"{d.std() / np.sqrt(len(d)):.4f} | {info['rounds']} | {info['num_leaves']} | "
            f"{time.perf_counter() - started:.0f} |",
            flush=True,
        )
    print(f"{load_text()} at end")


if __name__ == "__main__":
    main()
