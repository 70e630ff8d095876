"""Numbers for the report, from per-query results: means with their bootstrap interval, paired
comparisons and the verdicts they support. The report's template and plots only format these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from evaluation.metrics import mean_ci
from evaluation.results import Row, Section

Interval = tuple[float, float, float]


@dataclass(frozen=True)
class Stats:
    """Every interval of one report, drawn with one number of rounds and one seed."""

    rounds: int
    seed: int

    def ci(self, values: np.ndarray) -> Interval:
        return mean_ci(values, rounds=self.rounds, seed=self.seed)

    def fmt(self, values: np.ndarray, digits: int = 4) -> str:
        mean, low, high = self.ci(values)
        return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    def rmse(self, row: Row) -> Interval:
        """RMSE and its interval: the square root of the per-query MSE's."""
        mean, low, high = self.ci(row.values["MSE"])
        return float(np.sqrt(mean)), float(np.sqrt(low)), float(np.sqrt(high))

    def rmse_text(self, row: Row) -> str:
        mean, low, high = self.rmse(row)
        return f"{mean:.4f} [{low:.4f}, {high:.4f}]"

    def table(self, rows: Sequence[Row], metrics: Sequence[str], digits: int = 4) -> str:
        head = "| method | n | " + " | ".join(metrics) + " |"
        lines = [head, "|" + " --- |" * (len(metrics) + 2)]
        for r in rows:
            cells = " | ".join(self.fmt(r.values[m], digits) for m in metrics)
            lines.append(f"| {r.name} | {r.n} | {cells} |")
        return "\n".join(lines)

    def paired(self, a: Row, b: Row, metric: str) -> Interval:
        """Mean and interval of the per-query difference a − b (same queries, same order)."""
        return self.ci(a.values[metric] - b.values[metric])

    def verdict(self, a: Row, b: Row, metric: str = "P@10") -> str:
        mean, low, high = self.paired(a, b, metric)
        if low > 0:
            word = "better than"
        elif high < 0:
            word = "worse than"
        else:
            word = "not distinguishable from"
        return (
            f"**{a.name}** is {word} **{b.name}** on {metric} "
            f"(paired difference {mean:+.4f}, 95% CI [{low:+.4f}, {high:+.4f}])"
        )

    def summary(self, section: Section) -> dict[str, dict[str, list[float]]]:
        """method → metric → [mean, low, high] (MSE rows as RMSE), for docs/evaluation.json."""
        out: dict[str, dict[str, list[float]]] = {}
        for row in section.rows:
            if set(row.values) == {"MSE"}:
                out[row.name] = {"RMSE": [round(x, 6) for x in self.rmse(row)]}
            else:
                out[row.name] = {
                    m: [round(x, 6) for x in self.ci(v)] for m, v in row.values.items()
                }
        return out


def best(rows: Sequence[Row], metric: str, names: Callable[[str], bool]) -> Row:
    return max((r for r in rows if names(r.name)), key=lambda r: r.values[metric].mean())
