"""The ranker protocol end to end on a real slice of the demo sample: the product's
Recommender (Qdrant Edge, LightFM, the learned ranker) and the tuned strong baselines on the
same playlists, every method with R-precision and the beyond-accuracy metrics, and the report
with both verdicts and the tuning table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.encoders.lyrics_terms import LyricsTermsEncoder
from evaluation.methods.cf import baselines
from evaluation.ranker_protocol import (
    BEYOND,
    CF_ALONE,
    METRICS,
    RANKER,
    SINGLE,
    indexed_store,
    protocols,
    run_protocol,
    summary,
)
from evaluation.report.ranker import report
from evaluation.splits import continuation_split
from indexer.catalog import read_catalog
from tests.conftest import DEMO_TRACKS, demo_rows, write_catalog

N_USERS = 40


@pytest.mark.slow
def test_run_protocol_puts_the_baselines_beside_the_product(tmp_path: Path) -> None:
    interactions = pd.read_csv(DEMO_TRACKS.parent / "interactions.csv", dtype=str)
    users = interactions.groupby("user_id").size().sort_values(ascending=False).index[:N_USERS]
    rows = interactions[interactions["user_id"].isin(users)][["user_id", "track_id"]]
    rows = rows.drop_duplicates().reset_index(drop=True)
    header, all_rows = demo_rows()
    wanted = set(rows["track_id"])
    csv_path = write_catalog(
        tmp_path / "catalog.csv", header, [r for r in all_rows if r["id"] in wanted]
    )
    catalog = [t for batch in read_catalog(csv_path, schema="kaggle") for t in batch]
    rows = rows[rows["track_id"].isin({t.id for t in catalog})].reset_index(drop=True)
    split = continuation_split(rows, seed=3)
    standard = protocols(rows, split, catalog)[0]
    with indexed_store(csv_path, [LyricsTermsEncoder()]) as store:
        result = run_protocol(standard, store, seed=3, threads=1, log=lambda m: None)
    names = [b.name for b in baselines(3)]
    # Every single signal, each collaborative source alone, the tuned baselines, the blend.
    assert set(result.per_query) == {RANKER, *SINGLE, *CF_ALONE.values(), *names} | {
        m for m in result.per_query if m.startswith("linear blend")
    }
    for method, values in result.per_query.items():
        assert set(values) == set(METRICS)
        assert len(values["R-prec"]) == len(standard.hidden)
        assert set(result.beyond[method]) == set(BEYOND)
    assert list(result.tuning) == names
    numbers = summary([result], rounds=50, seed=3)
    text = report([result], numbers, "cmd")
    assert "Best of every method (issue 27)" in text
    assert "| EASE^R | lam ∈" in text
