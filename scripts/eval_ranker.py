"""The learned ranker against every signal it combines, on both TidyTuesday protocols, alone
(`python scripts/evaluate.py` runs it too, after the other protocols).

    python scripts/eval_ranker.py [--shared ../shared/data] [--out docs/ranker-evaluation.md]
                                  [--json FILE] [--seed 7]
    python scripts/eval_ranker.py --baselines-only --out docs/baselines.md   # no product
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from evaluation.ranker_run import evaluate_baselines, evaluate_ranker  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "ranker-evaluation.md")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    parser.add_argument("--cache", type=Path, default=ROOT / "data" / "eval-cache")
    parser.add_argument("--store", type=Path, default=None, help="keep the indexed collection")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="LightFM and LightGBM threads")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument(
        "--baselines-only", action="store_true", help="the tuned strong baselines, no product"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    command = "python scripts/eval_ranker.py" + (f" --seed {args.seed}" if args.seed != 7 else "")

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    if args.baselines_only:
        command += f" --baselines-only --out {args.out}"
        text, numbers = evaluate_baselines(
            args.shared,
            command=command,
            seed=args.seed,
            threads=args.threads,
            bootstrap=args.bootstrap,
            log=log,
        )
    else:
        text, numbers = evaluate_ranker(
            args.shared,
            args.cache,
            command=command,
            seed=args.seed,
            threads=args.threads,
            bootstrap=args.bootstrap,
            store_dir=args.store,
            log=log,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=1) + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
