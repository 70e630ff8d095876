"""The report's readings of the results: which rows are compared, and what the lyrics rows say
about the default weights. A reading, not a decision: settings change by hand, in
schemas/settings.py, and the report says so."""

from __future__ import annotations

from evaluation.config import (
    COLLAB_WEIGHTS,
    DEFAULTS_ROW,
    FUSION_ROW,
    LYRICS_RATIOS,
    WIDE_POOL,
    WIDE_WEIGHTS,
    dense_share,
    ratio_name,
)
from evaluation.methods.baselines import SameArtistMethod
from evaluation.report.stats import Stats, best
from evaluation.results import Row, Section

P10 = "P@10"
SAME_ARTIST = SameArtistMethod.name


def headline(section: Section) -> tuple[Row, Row]:
    """(best hybrid row, best single signal) by mean P@10: the bar the hybrid must clear."""
    singles = ("LightFM only", "audio only", "co-occurrence", SAME_ARTIST)
    return (
        best(section.rows, P10, lambda n: n.startswith("hybrid")),
        best(section.rows, P10, lambda n: n in singles),
    )


def sweep_series(section: Section, label: str) -> dict[str, tuple[list[float], list[Row]]]:
    """P@10 against collab_weight, at the default pool and the wide one."""
    narrow = [section.row(FUSION_ROW)] + [
        section.row(f"hybrid, collab_weight {w:g}") for w in COLLAB_WEIGHTS
    ]
    wide = [section.row(f"hybrid, collab_weight {w:g}, pool {WIDE_POOL}") for w in WIDE_WEIGHTS]
    return {
        f"{label}, pool 200 (default)": ([0.0, *COLLAB_WEIGHTS], narrow),
        f"{label}, pool {WIDE_POOL}": (list(WIDE_WEIGHTS), wide),
    }


def lyric_rows(section: Section) -> list[Row]:
    """The dense/sparse rows ordered by dense share, for the weight-ratio plot."""
    rows = [r for r in section.rows if dense_share(r.name) is not None]
    return sorted(rows, key=lambda r: dense_share(r.name) or 0.0)


def weights_advice(
    lyrics: Section, subset: Section, stats: Stats
) -> tuple[list[str], tuple[float, float]]:
    """Sentences behind the suggested lyrics weights, each with its paired interval.

    Same-artist retrieval (thousands of queries) decides between the ratios; sparse-only is
    not a candidate default because it drops the dense embedding, the only lyrics signal for
    paraphrase and free text; the playlist subset is reported for what it can tell.
    """
    dense, sparse = lyrics.row(ratio_name(1.0, 0.0)), lyrics.row(ratio_name(0.0, 1.0))
    fused = best(lyrics.rows, P10, lambda n: n.startswith("dense+sparse"))
    verdict = stats.verdict
    out = [
        f"On same-artist retrieval {verdict(sparse, dense, P10)}; the best fused ratio "
        f"is **{fused.name}** (P@10 {stats.fmt(fused.values[P10])}): "
        f"{verdict(fused, dense, P10)}, and {verdict(fused, sparse, P10)}."
    ]
    one_one = lyrics.row(ratio_name(1.0, 1.0))
    recommended = (1.0, 1.0)
    if fused is not one_one:
        out.append(f"Against the current 1:1: {verdict(fused, one_one, P10)}.")
        if stats.paired(fused, one_one, P10)[1] > 0:
            recommended = next(r for r in LYRICS_RATIOS if ratio_name(*r) == fused.name)
        else:
            out.append("Without a measured gain the current 1:1 stays.")
    if subset.rows:
        sub_best = best(subset.rows, P10, lambda n: dense_share(n) is not None)
        others = {ratio_name(1.0, 0.0), ratio_name(0.0, 1.0), fused.name} - {sub_best.name}
        out.append(
            f"On the playlist lyrics subset ({subset.facts['playlists']} playlists) the best "
            f"lyrics row is **{sub_best.name}**: "
            + "; ".join(verdict(sub_best, subset.row(n), P10) for n in sorted(others))
            + "."
        )
    dense_loses = stats.paired(sparse, dense, P10)[1] > 0
    out.append(
        "Sparse only would drop the dense embedding, which free-text search and paraphrase "
        "need"
        + (
            ", and dense only loses the artist vocabulary that same-artist retrieval rewards"
            if dense_loses
            else ""
        )
        + ", so the default should be a fused ratio."
    )
    defaults = lyrics.row(DEFAULTS_ROW)
    hurts = stats.paired(defaults, one_one, P10)[2] < 0
    out.append(
        "Audio at weight 1 beside the lyrics (the settings' defaults), same-artist: "
        f"{verdict(defaults, one_one, P10)}"
        + ("; audio's weight deserves a look." if hurts else ", so audio stays at 1.")
    )
    return out, recommended
