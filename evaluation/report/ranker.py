"""The learned-ranker report (docs/ranker-evaluation.md, docs/baselines.md): tables,
verdicts and the tuning record written from the numbers `evaluation.ranker_protocol`
computes — the computation and the report kept apart, as for the other protocols."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.recommend.features import GROUPS
from evaluation.ranker_protocol import (
    BEYOND,
    BLEND,
    CF_ALONE,
    METRICS,
    RANKER,
    SINGLE,
    K,
    ProtocolResult,
)


def report(
    results: Sequence[ProtocolResult],
    numbers: dict,
    command: str,
    title: str = "Learned ranker: evaluation",
    intro: str | None = None,
) -> str:
    """The markdown report: tables, verdicts against the 1.2x bar (best single signal) and the
    1.1x bar (best of every method, the strong baselines included), tuning, recall,
    importances. `intro` replaces the TidyTuesday protocol's description (the dense check)."""
    lines = [
        f"# {title}",
        "",
        intro
        or f"Produced by `{command}`. Playlist continuation on the TidyTuesday playlists "
        "(playlist = user, 20% of each playlist with >= 10 tracks hidden, seeded), through "
        "the product's `Recommender` and candidate sources. Intervals: 95% bootstrap over "
        "playlists.",
    ]
    ndcg = f"NDCG@{K}"
    for r in results:
        block = numbers[r.name]
        lines += ["", f"## {r.name} protocol", ""]
        lines += [", ".join(f"{k}: {v}" for k, v in r.facts.items() if k != "ranker")]
        lines += ["", f"Ranker training: {r.facts['ranker']}", ""]
        strong = list(r.tuning)
        singles = [*SINGLE, *(m for m in CF_ALONE.values() if m in block)]
        lines += method_table(block, [RANKER, BLEND, *singles, *strong], RANKER)
        best = max(singles, key=lambda m: block[m][ndcg][0])
        lines += ["", verdict(block, RANKER, best, 1.2, "Best single signal")]
        if strong:
            rival = max(
                [m for m in block if m in r.per_query and m != RANKER],
                key=lambda m: block[m][ndcg][0],
            )
            lines += ["", verdict(block, RANKER, rival, 1.1, "Best of every method (issue 27)")]
            lines += ["", *tuning_table(r.tuning)]
        blend = block["paired: ranker minus"][BLEND][ndcg]
        lines += [
            "",
            f"Against the linear blend: {_fmt(blend)}.",
            "",
            "Candidate recall@pool (share of a playlist's hidden tracks the source proposed):",
            "",
            "| source | recall |",
            "|---|---|",
            *(f"| {s} | {v:.3f} |" for s, v in sorted(r.recall.items(), key=lambda x: -x[1])),
            "",
            "Feature importance (share of total gain), by signal group:",
            "",
            "| group | share | top features |",
            "|---|---|---|",
        ]
        groups: dict[str, list[tuple[str, float]]] = {}
        for f, share in r.importance.items():
            groups.setdefault(GROUPS[f], []).append((f, share))
        for g, feats in sorted(groups.items(), key=lambda x: -sum(s for _, s in x[1])):
            top = ", ".join(f"{f} {s:.2f}" for f, s in sorted(feats, key=lambda x: -x[1])[:3])
            lines.append(f"| {g} | {sum(s for _, s in feats):.3f} | {top} |")
    return "\n".join(lines) + "\n"


def method_table(block: dict, methods: Sequence[str], reference: str | None) -> list[str]:
    """One row per method: the metrics with intervals, the beyond-accuracy metrics, and the
    paired NDCG@10 difference of `reference` minus the method (None: no such column)."""
    head = [*METRICS, *BEYOND, *([f"{reference} − method, NDCG@{K}"] if reference else [])]
    lines = ["| method | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for method in methods:
        cells = [_fmt(block[method][m]) for m in METRICS]
        beyond = block["beyond accuracy"][method]
        cells += [
            f"{beyond[b]:.4f}" if b != "popularity percentile" else f"{beyond[b]:.1f}"
            for b in BEYOND
        ]
        if reference:
            diff = block["paired: ranker minus"].get(method, {}).get(f"NDCG@{K}")
            cells.append(_fmt(diff) if diff else "")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def baselines_report(
    results: Sequence[ProtocolResult], numbers: dict, title: str, intro: str
) -> str:
    """The strong baselines alone: per protocol, the table and the tuning."""
    lines = [f"# {title}", "", intro]
    for r in results:
        lines += ["", f"## {r.name} protocol", ""]
        lines += [", ".join(f"{k}: {v}" for k, v in r.facts.items()), ""]
        lines += method_table(numbers[r.name], list(r.per_query), None)
        lines += ["", *tuning_table(r.tuning)]
    return "\n".join(lines) + "\n"


def verdict(block: dict, reference: str, rival: str, bar: float, label: str) -> str:
    ndcg = f"NDCG@{K}"
    ratio = block[reference][ndcg][0] / max(block[rival][ndcg][0], 1e-12)
    diff = block["paired: ranker minus"][rival][ndcg]
    side = "excludes" if diff[1] > 0 or diff[2] < 0 else "includes"
    met = "met" if ratio >= bar and diff[1] > 0 else "NOT met"
    return (
        f"{label}: {rival}. {reference} / {rival} = **{ratio:.2f}x** (bar {bar}x: {met}); "
        f"paired difference {_fmt(diff)} ({side} 0)."
    )


def tuning_table(tuning: dict[str, dict[str, Any]]) -> list[str]:
    """The grid each baseline was tuned over on the training side's validation split, and
    the values chosen."""
    lines = [
        "Baselines tuned on a validation split of the training side (continuation_split of "
        "the training rows, same seed); hidden tracks scored once with the chosen values:",
        "",
        "| baseline | grid | fixed | chosen | validation NDCG@10 | tuning s | fit s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, t in tuning.items():
        grid = "; ".join(f"{k} ∈ {v}" for k, v in t["grid"].items())
        fixed = ", ".join(f"{k} {v}" for k, v in t["fixed"].items())
        chosen = ", ".join(f"{k} {v}" for k, v in t["chosen"].items())
        lines.append(
            f"| {name} | {grid} | {fixed} | {chosen} | {t['validation NDCG@10']} | "
            f"{t['tuning seconds']} | {t['fit seconds']} |"
        )
    return lines


def _fmt(triple: Sequence[float]) -> str:
    mean, low, high = triple
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"
