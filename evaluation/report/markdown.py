"""docs/evaluation.md (from the Jinja template beside this module), its figures, and
docs/evaluation.json: the report of one run, written from its per-query results only.

The template's prose is wrapped for reading; a line that starts with two spaces continues the
previous one (`unwrap`), so each paragraph is one Markdown line as before.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jinja2

from core.files import atomic_write
from evaluation.config import (
    COLLAB_WEIGHTS,
    FUSION_ROW,
    KS,
    WIDE_POOL,
    WIDE_WEIGHTS,
    Params,
    dense_share,
    ratio_name,
)
from evaluation.methods.baselines import UnseenFirstMethod
from evaluation.protocols.linked_covers import LINKED_BLOCK, LINKED_DEFAULT
from evaluation.report.analysis import (
    SAME_ARTIST,
    headline,
    lyric_rows,
    sweep_series,
    weights_advice,
)
from evaluation.report.blocks import read_block
from evaluation.report.plots import plot_bars, plot_lines
from evaluation.report.stats import Stats, best
from evaluation.results import Results
from evaluation.splits import HIDE, MIN_TRACKS

# Quoted from ../shared/data/README.md (its own split): drawn as reference lines, not measured.
README_REFERENCE = {
    "item co-occurrence": (0.0172, 0.14),
    "audio kNN (mean of seeds)": (0.0159, 0.13),
}
TEMPLATES = Path(__file__).parent / "templates"


def unwrap(text: str) -> str:
    return re.sub(r"\n  +", " ", text)


def figures(params: Params, results: Results, stats: Stats) -> None:
    playlists, warm, lyrics, subset = (
        results.playlists,
        results.warm,
        results.lyrics,
        results.subset,
    )
    pf, img = playlists.facts, params.img
    reference = {
        "co-occurrence (README)": README_REFERENCE["item co-occurrence"][0],
        "audio kNN (README)": README_REFERENCE["audio kNN (mean of seeds)"][0],
    }
    plot_bars(
        img / "playlist_continuation.png",
        playlists.rows,
        ["P@10", "NDCG@10"],
        f"Playlist continuation: {pf['playlists']} playlists, catalog {pf['catalog']}",
        stats,
        reference,
    )
    plot_bars(
        img / "playlist_continuation_warm.png",
        warm.rows,
        ["P@10", "NDCG@10"],
        f"Warm-only protocol: {warm.facts['playlists']} playlists, catalog {warm.facts['catalog']}",
        stats,
    )
    plot_lines(
        img / "collab_weight.png",
        {**sweep_series(playlists, "standard"), **sweep_series(warm, "warm only")},
        "P@10",
        "collab_weight (0 = content fusion only)",
        "Hybrid: LightFM blended into the fused candidates",
        stats,
    )
    plot_bars(
        img / "lyrics_representations.png",
        lyrics.rows,
        ["P@10", "NDCG@10"],
        f"Same-artist retrieval on Billboard lyrics ({lyrics.facts['queries']} queries)",
        stats,
    )
    series = {"same artist (Billboard)": lyric_rows(lyrics)}
    if subset.rows:
        series["playlist continuation, lyrics subset"] = lyric_rows(subset)
    plot_lines(
        img / "sparse_dense.png",
        {k: ([dense_share(r.name) or 0.0 for r in rows], rows) for k, rows in series.items()},
        "P@10",
        "dense share of the lyrics weight (0 = BM25 only, 1 = MiniLM only)",
        "Sparse vs dense lyrics in the Recommender's fusion",
        stats,
    )
    if results.cover is not None:
        plot_bars(
            img / "covers.png",
            results.cover.rows,
            ["P@10"],
            f"Cover genre retrieval ({results.cover.facts['covers']} covers)",
            stats,
            {"random": float(results.cover.facts["random"])},  # type: ignore[arg-type]
        )


def context(params: Params, results: Results, stats: Stats) -> dict[str, object]:
    """Every value the template prints, chosen here; the template only lays them out."""
    playlists, warm, lyrics = results.playlists, results.warm, results.lyrics
    hybrids = [playlists.row(f"hybrid, collab_weight {w:g}") for w in COLLAB_WEIGHTS]
    wide_rows = [
        playlists.row(f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}") for w in WIDE_WEIGHTS
    ]
    advice, (rec_dense, rec_sparse) = weights_advice(lyrics, results.subset, stats)
    best_hybrid, best_single = headline(playlists)
    warm_hybrid, warm_single = headline(warm)
    covers_linked = read_block(params.out, LINKED_BLOCK, LINKED_DEFAULT)
    return {
        "params": params,
        "covers_linked": covers_linked,
        "s": stats,
        "results": results,
        "img": os.path.relpath(params.img, params.out.parent),
        "rank_metrics": [f"{m}@{k}" for k in KS for m in ("P", "R", "F1", "NDCG", "HR")],
        "pf": playlists.facts,
        "wf": warm.facts,
        "best_hybrid": best_hybrid,
        "best_single": best_single,
        "warm_hybrid": warm_hybrid,
        "warm_single": warm_single,
        "dense": lyrics.row(ratio_name(1.0, 0.0)),
        "sparse": lyrics.row(ratio_name(0.0, 1.0)),
        "best_fused": lyrics.row(ratio_name(rec_dense, rec_sparse)),
        "advice": advice,
        "rec_dense": rec_dense,
        "rec_sparse": rec_sparse,
        "hybrids": list(zip(COLLAB_WEIGHTS, hybrids, strict=True)),
        "wide_best": best(wide_rows, "P@10", lambda _n: True),
        "narrow_best": best(hybrids, "P@10", lambda _n: True),
        "fusion_row": FUSION_ROW,
        "same_artist": SAME_ARTIST,
        "unseen_first": UnseenFirstMethod.name,
        "wide_pool": WIDE_POOL,
        "min_tracks": MIN_TRACKS,
        "hide": HIDE,
        "reference": README_REFERENCE,
        "lyric_rows": lyric_rows,
    }


def render(params: Params, results: Results) -> str:
    stats = Stats(params.bootstrap, params.seed)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML
    )
    text = env.get_template("evaluation.md.j2").render(context(params, results, stats))
    return unwrap(text).rstrip("\n")


def write_report(params: Params, results: Results) -> None:
    """docs/evaluation.md, its figures, and docs/evaluation.json (see `json_summary`)."""
    stats = Stats(params.bootstrap, params.seed)
    figures(params, results, stats)
    params.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(params.out, render(params, results).encode("utf-8"))
    atomic_write(params.json_out, dump_json(json_summary(params, results)).encode("utf-8"))


def dump_json(summary: dict[str, object]) -> str:
    """Indented, with each [mean, low, high] triple on one line."""
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    return re.sub(r"\[\s+([^\[\]{}]+?)\s+\]", lambda m: f"[{' '.join(m.group(1).split())}]", text)


def json_summary(params: Params, results: Results) -> dict[str, object]:
    """{"command", "seed", "bootstrap", "quick", "results": protocol → method → metric →
    [mean, low, high]} with the same intervals as the Markdown tables."""
    stats = Stats(params.bootstrap, params.seed)
    return {
        "command": params.command,
        "seed": params.seed,
        "bootstrap": params.bootstrap,
        "quick": params.quick,
        "results": {name: stats.summary(s) for name, s in results.sections().items()},
    }
