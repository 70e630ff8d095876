"""The lyrics encoder on torch against its int8 ONNX copy: speed and agreement.

    python scripts/bench_lyrics_runtime.py --tracks 400 --repeat 3

Both runtimes encode the same demo lyrics (data/demo/tracks.csv, in the repo) with the
product's settings (batch size, max sequence length); runs alternate and the best of each is
kept, because the machine may be shared. Agreement is the cosine of each int8 vector to its
torch vector, and how many of each lyric's 10 nearest neighbours (within the sample) the int8
vectors keep: what a search would notice.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from core.encoders.factory import build_lyrics_encoder
from core.encoders.lyrics import LyricsEncoder
from schemas.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def neighbours(x: np.ndarray, k: int) -> np.ndarray:
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", type=Path, default=ROOT / "data/demo/tracks.csv")
    parser.add_argument("--tracks", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with args.catalog.open(newline="", encoding="utf-8") as fh:
        texts = [r["lyrics"] for r in csv.DictReader(fh) if r["lyrics"].strip()][: args.tracks]

    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(_env_file=None, data_dir=Path(tmp), device="cpu")  # type: ignore[call-arg]
        encoders: dict[str, LyricsEncoder] = {}
        export_s = {}
        for runtime in ("torch", "onnx-int8"):
            started = time.perf_counter()
            encoders[runtime] = build_lyrics_encoder(
                base.model_copy(update={"lyrics_runtime": runtime})
            )
            export_s[runtime] = time.perf_counter() - started
        rates: dict[str, list[float]] = {r: [] for r in encoders}
        vectors: dict[str, np.ndarray] = {}
        for encoder in encoders.values():
            encoder.encode(texts[:8])  # warm-up
        for _ in range(args.repeat):
            for runtime, encoder in encoders.items():
                started = time.perf_counter()
                vectors[runtime] = np.stack(encoder.encode(texts))  # type: ignore[arg-type]
                rates[runtime].append(len(texts) / (time.perf_counter() - started))
        alone = {
            runtime: np.stack([encoder.encode_text(t) for t in texts[:64]])
            for runtime, encoder in encoders.items()
        }

    cosines = (vectors["torch"] * vectors["onnx-int8"]).sum(axis=1)
    k = 10
    kept = [
        len(set(a) & set(b)) / k
        for a, b in zip(
            neighbours(vectors["torch"], k), neighbours(vectors["onnx-int8"], k), strict=True
        )
    ]
    torch_best, int8_best = max(rates["torch"]), max(rates["onnx-int8"])
    print(
        f"{len(texts)} demo lyrics; batch {base.lyrics_batch_size}, max length "
        f"{base.lyrics_max_seq_length}; cores {os.cpu_count()}; "
        "load {:.2f} {:.2f} {:.2f} at the end".format(*os.getloadavg())
    )
    print("| runtime | lyrics/s (best) | all runs | load + export s |\n|---|---|---|---|")
    for runtime, runs in rates.items():
        print(
            f"| {runtime} | {max(runs):.1f} | {', '.join(f'{r:.1f}' for r in runs)} "
            f"| {export_s[runtime]:.1f} |"
        )
    print(f"speed-up: {int8_best / torch_best:.2f}x")
    print(
        f"cosine int8 vs torch: min {cosines.min():.4f}, 1st percentile "
        f"{np.percentile(cosines, 1):.4f}, mean {cosines.mean():.4f}; "
        f"10 nearest neighbours kept: {np.mean(kept):.3f}"
    )
    for runtime, single in alone.items():
        same = (single * vectors[runtime][: len(single)]).sum(axis=1)
        fp32 = (single * vectors["torch"][: len(single)]).sum(axis=1)
        print(
            f"{runtime}: a lyric alone (as a search query is) vs in a batch of "
            f"{base.lyrics_batch_size}, over {len(single)} lyrics: cosine min {same.min():.4f}, "
            f"mean {same.mean():.4f}; alone vs torch: min {fp32.min():.4f}, "
            f"mean {fp32.mean():.4f}"
        )


if __name__ == "__main__":
    main()
