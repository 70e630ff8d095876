"""The learned ranker against every signal it combines, on both TidyTuesday protocols.

    python scripts/eval_ranker.py [--shared ../shared/data] [--out docs/ranker-evaluation.md]
                                  [--json docs/ranker-evaluation.json] [--seed 7]

A thin driver over `evaluation.ranker_protocol`: the catalog, the playlist split and the
cached lyrics encoder are the ones scripts/evaluate.py uses, so the numbers are comparable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from core.interactions.files import tidytuesday_interactions  # noqa: E402
from evaluation.datasets import billboard_songs, playlist_catalog, write_kaggle_csv  # noqa: E402
from evaluation.indexing import lyrics_encoders  # noqa: E402
from evaluation.ranker_protocol import (  # noqa: E402
    cooccurrence_cost,
    indexed_store,
    protocols,
    report,
    run_protocol,
    summary,
)
from evaluation.splits import continuation_split  # noqa: E402
from indexer.catalog import read_catalog  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ranker-evaluation.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "ranker-evaluation.json")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "eval-cache")
    parser.add_argument(
        "--store", type=Path, default=None, help="keep the indexed collection here (reruns)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="LightFM and LightGBM threads")
    parser.add_argument("--bootstrap", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    csv = args.shared / "tidytuesday_spotify_songs.csv"
    tidy = pd.read_csv(csv, dtype={"track_id": str})
    rows = tidytuesday_interactions(csv)
    split = continuation_split(rows, args.seed)
    lyrics = billboard_songs(args.shared).set_index("track_id")["lyrics"].to_dict()
    encoders = list(lyrics_encoders(args.cache))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = write_kaggle_csv(playlist_catalog(tidy, lyrics), Path(tmp) / "playlists.csv")
        catalog = [t for batch in read_catalog(path, schema="kaggle") for t in batch]
        log(f"catalog {len(catalog)} tracks; indexing …")
        with indexed_store(path, encoders, args.store) as store:
            for protocol in protocols(rows, split, catalog):
                log(f"{protocol.name}: {len(protocol.hidden)} playlists")
                results.append(
                    run_protocol(protocol, store, seed=args.seed, threads=args.threads, log=log)
                )
                log(f"{protocol.name}: done {results[-1].facts}")
    numbers = summary(results, args.bootstrap, args.seed)
    from core.recommend.interactions import InteractionIndex

    cost = cooccurrence_cost(InteractionIndex.from_pairs(split[0]), sorted(split[1]), args.seed)
    command = "python scripts/eval_ranker.py" + (f" --seed {args.seed}" if args.seed != 7 else "")
    text = report(results, numbers, command) + f"\nCo-occurrence cost: {cost}\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    args.json.write_text(json.dumps(numbers, indent=1) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
