"""Evaluate the LightFM hybrid on the real TidyTuesday playlists (each playlist = one user).

(a) Playlist continuation: every playlist with >= 10 tracks has 20% of its tracks hidden
    (seeded); each method trains on the rest and ranks the whole catalog (training tracks of
    the playlist excluded). P@10 / HR@10 with 95% bootstrap CIs over playlists: the LightFM
    sweep next to random, popularity, co-occurrence and same-artist on the same split.
(b) Cold start: 10% of the tracks lose ALL their interactions; for every playlist that had one
    of them, AUC of those tracks against every other candidate track, scored from item
    features only (they have no identity feature).

The work is `evaluation.protocols.collaborative` (genre derived from training rows only).

    python scripts/eval_collaborative.py --shared ../shared/data
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.metrics import bootstrap_ci  # noqa: E402
from evaluation.protocols.collaborative import SWEEP, K, cold_start, continuation, load_data  # noqa: E402


def main(
    shared: Annotated[Path, typer.Option()] = ROOT.parent / "shared" / "data",
    seed: int = 7,
    threads: int = 2,
    bootstrap: int = 2000,
    sweep: Annotated[bool, typer.Option(help="all LightFM configs (--no-sweep: default)")] = True,
) -> None:
    started = time.perf_counter()
    rng = np.random.default_rng(seed + 3)

    def fmt(values: np.ndarray, digits: int = 4) -> str:
        low, high = bootstrap_ci(values, rounds=bootstrap, seed=rng)
        return f"{values.mean():.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    tracks, rows = load_data(shared)
    results = continuation(tracks, rows, seed, threads, sweep)
    print(f"\n### Playlist continuation ({results[0].n} playlists, {len(tracks)} tracks, K={K}, "
          f"seed {seed})\n")  # fmt: skip
    print("| method | P@10 [95% CI] | HR@10 [95% CI] | training |")
    print("| --- | --- | --- | --- |")
    for r in results:
        print(f"| {r.name} | {fmt(r.values['P@10'])} | {fmt(r.values['HR@10'], 3)} | {r.note} |")
    artist = next(r for r in results if r.name == "same artist as seeds")
    default = next(r for r in results if r.name == SWEEP[0].name)
    print(
        f"\nPaired difference {default.name} − same artist, P@10: "
        f"{fmt(default.values['P@10'] - artist.values['P@10'])}"
    )
    auc = cold_start(tracks, rows, seed, threads)
    print(f"\n### Cold start ({len(auc['all'])} playlists, AUC per playlist, 95% CI)\n")
    print("| negatives | model AUC | baseline AUC |")
    print("| --- | --- | --- |")
    print(
        "| all catalog tracks not in the playlist's training side | "
        f"{fmt(auc['all'], 3)} | random {fmt(auc['random'], 3)} |"
    )
    print(
        f"| other cold tracks only | {fmt(auc['cold_only'], 3)} | "
        f"Spotify popularity {fmt(auc['spotify_pop_cold_only'], 3)} |"
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    typer.run(main)
