"""`musicrec evaluate`: every method on the real data, one report (docs/evaluation.md + .json).

A shim: the evaluation package (the `eval` extra) is imported only when the command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

ROOT = Path(__file__).resolve().parents[2]


def evaluate(
    shared: Annotated[Path, typer.Option(help="the real data (TidyTuesday, Billboard, covers)")] = (
        ROOT.parent / "shared" / "data"
    ),
    out: Annotated[Path, typer.Option(help="the Markdown report; the JSON goes beside it")] = (
        ROOT / "docs" / "evaluation.md"
    ),
    img: Annotated[Path | None, typer.Option(help="plots; default <out dir>/img")] = None,
    cache: Annotated[Path, typer.Option(help="embedding cache (MiniLM lyrics, covers)")] = (
        ROOT / "data" / "eval-cache"
    ),
    seed: int = 7,
    quick: Annotated[bool, typer.Option(help="small subsets, ~2 minutes")] = False,
    playlists: Annotated[int | None, typer.Option(help="evaluate N playlists")] = None,
    songs: Annotated[int | None, typer.Option(help="billboard songs (whole artists)")] = None,
    covers: Annotated[int | None, typer.Option(help="covers per genre")] = None,
    skip_covers: bool = False,
    ranker: Annotated[
        bool, typer.Option(help="also the learned ranker's protocol (not with --quick)")
    ] = True,
    bootstrap: Annotated[int, typer.Option(min=10)] = 2000,
    threads: Annotated[
        int, typer.Option(min=1, help="LightFM threads (>1 is faster but not bit-reproducible)")
    ] = 1,
) -> int:
    """Measure every method (baselines, LightFM, the product) and write the report."""
    if not (shared / "tidytuesday_spotify_songs.csv").is_file():
        print(f"error: no tidytuesday_spotify_songs.csv under {shared} (--shared)", file=sys.stderr)
        return 2
    from evaluation.config import Params
    from evaluation.run import run

    params = Params.build(
        shared,
        out,
        img=img,
        quick=quick,
        playlists=playlists,
        songs=songs,
        covers=covers,
        bootstrap=bootstrap,
        cache=cache,
        seed=seed,
        threads=threads,
        skip_covers=skip_covers,
        ranker=ranker,
    )
    run(params)
    return 0
