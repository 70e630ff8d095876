"""The report's figures (matplotlib, Agg backend): bars with bootstrap intervals per method,
and metric-against-parameter lines with their interval bands."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.report.stats import Stats
from evaluation.results import Row


def _pyplot() -> Any:  # matplotlib.pyplot, imported on first use
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bars(
    path: Path,
    rows: Sequence[Row],
    metrics: Sequence[str],
    title: str,
    stats: Stats,
    reference: dict[str, float] | None = None,
) -> None:
    """`reference` values are drawn as vertical lines on the P@10 panel."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 0.45 * len(rows) + 1.6))
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics, strict=True):
        intervals = [stats.ci(r.values[metric]) for r in rows]
        means = np.array([s[0] for s in intervals])
        err = np.array([[s[0] - s[1] for s in intervals], [s[2] - s[0] for s in intervals]])
        y = np.arange(len(rows))[::-1]
        ax.barh(y, means, xerr=err, color="#4c72b0", ecolor="black", capsize=3)
        ax.set_yticks(y, [r.name for r in rows], fontsize=8)
        ax.set_xlabel(f"{metric} (95% bootstrap CI)")
        if metric == "P@10" and reference:
            styles = zip(
                reference.items(),
                ("--", ":", "-."),
                ("#c44e52", "#55a868", "#8172b2"),
                strict=False,
            )
            for (label, value), style, color in styles:
                ax.axvline(value, ls=style, lw=1.2, color=color, label=label)
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_lines(
    path: Path,
    series: dict[str, tuple[list[float], list[Row]]],
    metric: str,
    xlabel: str,
    title: str,
    stats: Stats,
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, (xs, rows) in series.items():
        intervals = np.array([stats.ci(r.values[metric]) for r in rows])
        ax.plot(xs, intervals[:, 0], marker="o", label=label)
        ax.fill_between(xs, intervals[:, 1], intervals[:, 2], alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric} (95% bootstrap CI)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
