"""The dense check of issue 27: the strong baselines on the synthetic interactions of
scripts/bench_personal.py (20,000 users over the 160k catalog), split by the evaluation's own
`continuation_split`, on a seeded draw of evaluated users.

    python scripts/eval_dense.py --interactions /work/bench/<dir>/interactions-u20000-s0.csv \
        [--users 2000] [--seed 7] [--ease-items 5000] [--out docs/dense-evaluation.md]

Each baseline runs in its own fresh process (spawned), so its row's peak RSS is that model's
alone (data loading included): tuned on a validation split of the training side (the small
grids of evaluation.methods.cf.SMALL_GRIDS, validated on --validation-users playlists),
refitted on the whole training side, then every evaluated user is answered once. Reported:
NDCG/P/HR@10 and R-precision with bootstrap intervals, coverage, popularity percentile and
Gini of exposure, the grids and chosen values, and per model the training seconds, peak RSS,
artefact size (the compressed .npz of `to_arrays`) and ms per query. The catalog is the
tracks the interactions name. Synthetic data is no proof of quality: this shows whether
collaborative strength is measurable, and what it costs, at scale.

With `--data-dir` (the directory scripts/bench_personal.py built, whose collection holds the
160k tracks the interactions name), the product runs too, in a process of its own: LightFM,
the collaborative models and the learned ranker trained on the training side only
(`evaluation.ranker_protocol.run_protocol`, the TidyTuesday protocol's code, baselines left to
the processes above), then every evaluated user answered by `recommend_for_user` through
`build_recommender` with the settings' defaults, as the API serves. Its catalog is every track
of the collection (a superset of the baselines' catalog: a handicap, never a help).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Light imports only: each model's process re-imports this module, and its peak RSS should
# be the model's, not torch's (evaluation.ranker_protocol, imported in main, pulls it in).
from bench.machine import rss_mb  # noqa: E402

from evaluation.methods.cf import baselines  # noqa: E402
from evaluation.splits import continuation_split  # noqa: E402
from evaluation.tuning import run_baseline  # noqa: E402
from schemas.tracks import Track  # noqa: E402

if TYPE_CHECKING:
    from evaluation.ranker_protocol import ProtocolResult


@dataclass
class DenseProtocol:
    name: str
    train_rows: pd.DataFrame
    hidden: dict[str, set[str]]
    catalog: list[Track]


def dense_protocol(interactions: Path, users: int, seed: int) -> DenseProtocol:
    """The split of the interactions file and the seeded draw of evaluated users."""
    rows = pd.read_csv(interactions, usecols=["user_id", "track_id"], dtype=str)
    rows = rows.drop_duplicates().reset_index(drop=True)
    train_rows, hidden = continuation_split(rows, seed)
    eligible = sorted(hidden)
    drawn = np.random.default_rng(seed).permutation(eligible)[:users]
    catalog = [Track(id=t) for t in sorted(rows["track_id"].unique())]
    return DenseProtocol(
        "dense (synthetic)",
        train_rows,
        {str(u): set(map(str, hidden[str(u)])) for u in drawn},
        catalog,
    )


def one_baseline(name: str, options: dict) -> dict:
    """In a fresh process: load, tune, fit, answer; report answers and costs."""
    protocol = dense_protocol(Path(options["interactions"]), options["users"], options["seed"])
    (baseline,) = [
        b
        for b in baselines(options["seed"], options["threads"], options["ease_items"], small=True)
        if b.name == name
    ]
    run = run_baseline(baseline, protocol, options["seed"], options["validation_users"])
    buffer = io.BytesIO()
    assert run.method.model is not None
    np.savez_compressed(buffer, **run.method.model.to_arrays())
    return {
        "answers": run.answers,
        "tuning": run.tuning,
        "ms per query": run.ms_per_query,
        "peak RSS MB": round(rss_mb()[1]),
        "artefact MB": round(len(buffer.getvalue()) / 2**20, 1),
    }


def product_run(options: dict) -> tuple[ProtocolResult, int]:
    """In a fresh process: the product trained on the training side over the bench
    collection and answering every evaluated user (`run_protocol`); its result and peak RSS."""
    from core.store import open_store
    from evaluation.ranker_protocol import Protocol, run_protocol
    from jobs.train import collection_tracks
    from schemas.settings import Settings

    dense = dense_protocol(Path(options["interactions"]), options["users"], options["seed"])
    settings = Settings(data_dir=Path(options["data_dir"]), collection=options["collection"])
    store = open_store(settings)
    protocol = Protocol(dense.name, dense.train_rows, dense.hidden, collection_tracks(store))

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] product: {message}", file=sys.stderr, flush=True)

    try:
        result = run_protocol(
            protocol, store, seed=options["seed"], threads=options["threads"], log=log,
            baselines=False,
        )  # fmt: skip
    finally:
        store.close()
    return result, round(rss_mb()[1])


def main() -> int:
    from evaluation.ranker_protocol import (
        RANKER,
        Protocol,
        ProtocolResult,
        score_rankings,
        summary,
    )
    from evaluation.report.ranker import baselines_report, report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=Path, required=True)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--validation-users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ease-items", type=int, default=5000, help="EASE's most-played bound")
    parser.add_argument("--only", nargs="*", default=None, help="baseline names to run")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "dense-evaluation.md")
    parser.add_argument("--data-dir", type=Path, help="bench_personal.py's directory: the product")
    parser.add_argument("--collection", default="bench")
    args = parser.parse_args()
    options = {
        "interactions": str(args.interactions),
        "users": args.users,
        "seed": args.seed,
        "threads": args.threads,
        "ease_items": args.ease_items,
        "validation_users": args.validation_users,
        "data_dir": str(args.data_dir),
        "collection": args.collection,
    }
    dense = dense_protocol(args.interactions, args.users, args.seed)
    protocol = Protocol(dense.name, dense.train_rows, dense.hidden, dense.catalog)
    result = ProtocolResult(protocol.name)
    costs: dict[str, dict] = {}
    names = [b.name for b in baselines(args.seed, small=True)]
    for name in names if args.only is None else [n for n in names if n in args.only]:
        started = time.perf_counter()
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            out = pool.submit(one_baseline, name, options).result()
        result.tuning[name] = out["tuning"]
        costs[name] = {
            "train s (tuning + fit)": round(
                out["tuning"]["tuning seconds"] + out["tuning"]["fit seconds"], 1
            ),
            "fit s": out["tuning"]["fit seconds"],
            "peak RSS MB": out["peak RSS MB"],
            "artefact MB": out["artefact MB"],
            "ms/query": out["ms per query"],
            "wall s": round(time.perf_counter() - started, 1),
        }
        print(f"[{time.strftime('%H:%M:%S')}] {name}: {costs[name]}", file=sys.stderr, flush=True)
        users = sorted(protocol.hidden)
        score_rankings(result, protocol, {name: {u: out["answers"][u] for u in users}})
    if args.data_dir is not None:
        started = time.perf_counter()
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            product, peak = pool.submit(product_run, options).result()
        result.per_query |= product.per_query
        result.recall, result.importance = product.recall, product.importance
        result.beyond |= product.beyond
        result.facts |= product.facts | {
            "product peak RSS MB (train and answer)": peak,
            "product wall s": round(time.perf_counter() - started, 1),
        }
    result.facts.update(
        {
            "evaluated users": len(protocol.hidden),
            "training users": protocol.train_rows["user_id"].nunique(),
            "training rows": len(protocol.train_rows),
            "catalog (tracks in the interactions)": len(protocol.catalog),
            "load average": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        }
    )
    numbers = summary([result], args.bootstrap, args.seed)
    command = (
        f"python scripts/eval_dense.py --interactions {args.interactions} --users {args.users}"
        f" --seed {args.seed} --ease-items {args.ease_items}"
        f" --validation-users {args.validation_users} --threads {args.threads}"
        + (f" --data-dir {args.data_dir} --collection {args.collection}" if args.data_dir else "")
    )
    intro = (
        f"Produced by `{command}`. The synthetic interactions of scripts/bench_personal.py, "
        "split by `continuation_split`; a seeded draw of evaluated users. Intervals: 95% "
        "bootstrap over users. Synthetic data is no proof of quality. "
        + (
            "The product's rows: trained on the training side over the benchmark's collection, "
            "answering through `build_recommender` with the default settings."
            if args.data_dir
            else "The product's row is not measured in this run (`--data-dir` runs it)."
        )
    )
    title = "Dense check: strong baselines at scale"
    text = (
        report([result], numbers, command, title, intro)
        if RANKER in result.per_query
        else baselines_report([result], numbers, title, intro)
    )
    if costs:
        head = list(next(iter(costs.values())))
        text += "\n## Cost per model\n\n| model | " + " | ".join(head) + " |\n"
        text += "|---" * (len(head) + 1) + "|\n"
        for name, cost in costs.items():
            text += f"| {name} | " + " | ".join(str(v) for v in cost.values()) + " |\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.out.with_suffix(".json").write_text(
        json.dumps({"numbers": numbers, "costs": costs}, indent=1) + "\n", encoding="utf-8"
    )
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
