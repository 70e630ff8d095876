"""The collaborative models at a given size: per model, training seconds, peak RSS, artefact
size and ms per query, each model fitted in its own process (so its peak RSS is its own).

    python scripts/bench_cf.py --interactions FILE.csv [--label 160k] [--queries 200]
                               [--json out.json]
    python scripts/bench_cf.py --tidytuesday [--shared ../shared/data]
    python scripts/bench_cf.py --synthetic 160000 [--users 20000]

FILE has `user_id, track_id` (scripts/bench_personal.py writes
<workdir>/g2-n160000-…/interactions-u20000-s0.csv); `--synthetic N` draws the same kind
of interactions (scripts/bench/interactions.py, seeded) over N synthetic tracks with synthetic
artists (15 tracks each on average) and 12 genres, without the benchmark collection. The
models and their hyper-parameters are the settings' (`MUSICREC_SOURCES`, `MUSICREC_EASE_*`,
`MUSICREC_IALS_*`, …), fitted through
`core.recommend.cf_models.fit_cf` as `musicrec train` fits them; a query is one history (a
seeded sample of the users' own histories) scored by the model, as a request does. The
artefact size is the model's arrays in a compressed .npz, as the ranker artefact stores them.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from bench.interactions import InteractionParams, generate_interactions  # noqa: E402

from core.interactions.files import tidytuesday_interactions  # noqa: E402
from core.recommend.cf_models import CF_NAMES, fit_cf  # noqa: E402
from core.recommend.factory import feature_layout  # noqa: E402
from core.recommend.user_tracks import UserTrackMatrix  # noqa: E402
from evaluation.datasets import TIDYTUESDAY  # noqa: E402
from schemas.settings import Settings  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_model(name: str, pairs: pd.DataFrame, queries: int, seed: int) -> dict[str, Any]:
    """Runs in a child process: fit, save, time `queries` history scorings."""
    index = UserTrackMatrix.from_pairs(pairs)
    before = peak_mb()
    started = time.perf_counter()
    cf = fit_cf(index, Settings(), [name])
    seconds = time.perf_counter() - started
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **cf.to_arrays())
    users = np.random.default_rng(seed).choice(len(index.user_ids), queries, replace=False)
    histories = [index.user_tracks(index.user_ids[u]) for u in users]
    t0 = time.perf_counter()
    for history in histories:
        cf.scores(name, history)
    ms = 1000 * (time.perf_counter() - t0) / len(histories)
    fitted = cf.fitted[name]
    return {
        "model": name,
        "items": len(index) if fitted.columns is None else len(fitted.columns),
        "train_s": round(seconds, 1),
        "peak_rss_mb": round(peak_mb(), 0),
        "rss_before_fit_mb": round(before, 0),
        "artefact_mb": round(len(buffer.getvalue()) / 1e6, 1),
        "ms_per_query": round(ms, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interactions", type=Path)
    parser.add_argument("--tidytuesday", action="store_true")
    parser.add_argument("--synthetic", type=int, default=0, help="tracks (no collection)")
    parser.add_argument("--users", type=int, default=20_000, help="with --synthetic")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--label", default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if args.tidytuesday:
        pairs = tidytuesday_interactions(args.shared / TIDYTUESDAY)
    elif args.synthetic:
        rng = np.random.default_rng(args.seed)
        ids = [f"t{i}" for i in range(args.synthetic)]
        artists = [f"a{a}" for a in rng.integers(0, max(args.synthetic // 15, 1), len(ids))]
        genres = [f"g{g}" for g in rng.integers(0, 12, len(ids))]
        params = InteractionParams(users=args.users, seed=args.seed)
        pairs = generate_interactions(ids, artists, genres, params)
    elif args.interactions:
        pairs = pd.read_csv(args.interactions, dtype=str, usecols=["user_id", "track_id"])
    else:
        parser.error("--interactions FILE or --tidytuesday")
    pairs = pairs[["user_id", "track_id"]].astype(str).drop_duplicates()
    label = args.label or (
        "TidyTuesday"
        if args.tidytuesday
        else f"synthetic {args.synthetic}"
        if args.synthetic
        else args.interactions.stem
    )
    settings = Settings()
    names = [n for n in feature_layout(settings).sources if n in CF_NAMES]
    facts = {
        "label": label,
        "users": int(pairs["user_id"].nunique()),
        "tracks": int(pairs["track_id"].nunique()),
        "interactions": len(pairs),
        "load": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }
    print(json.dumps(facts), flush=True)
    rows = []
    context = mp.get_context("spawn")
    for name in names:
        with context.Pool(1) as pool:
            row = pool.apply(one_model, (name, pairs, min(args.queries, facts["users"]), args.seed))
        rows.append(row)
        print(json.dumps(row), flush=True)
    facts["load_after"] = " ".join(f"{v:.1f}" for v in os.getloadavg())
    header = "| model | items | train s | peak RSS MB | artefact MB | ms/query |"
    print(f"\n{label}: {facts}\n\n{header}\n|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['items']} | {r['train_s']} | {r['peak_rss_mb']:.0f} "
            f"| {r['artefact_mb']} | {r['ms_per_query']} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"facts": facts, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
