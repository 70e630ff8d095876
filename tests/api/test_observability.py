"""`GET /metrics` and request-id JSON logs on a real server over real HTTP."""

from __future__ import annotations

import io
import json
import logging

import pytest

from api.main import create_app
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.store.edge import EdgeStore
from indexer.pipeline import Indexer
from tests.conftest import LiveServer, make_settings, metric_samples, slice_rows, write_catalog


@pytest.fixture(scope="module")
def data_dir(module_dir, lyrics_encoder):
    """Its own small collection: the session's indexed dir is owned by the shared API server
    (an embedded shard has one owner)."""
    root = module_dir
    catalog = write_catalog(root / "c.csv", *slice_rows(12, 8))
    settings = make_settings(root)
    store = EdgeStore(settings.qdrant_path, settings.collection)
    Indexer(store, [lyrics_encoder, LyricsTermsEncoder()], progress=False).run(catalog)
    store.close()
    return root


@pytest.fixture
def json_log() -> io.StringIO:
    """A console handler on the root logger, as `python -m api` has (basicConfig)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_metrics_and_json_logs_with_request_ids(data_dir, json_log) -> None:
    app = create_app(make_settings(data_dir, log_format="json"))
    with LiveServer(app) as client:
        for _ in range(3):
            assert client.get("/search", params={"q": "love and the night"}).status_code == 200
        sent = client.get("/health", headers={"X-Request-ID": "lb-42"})
        assert sent.headers["X-Request-ID"] == "lb-42"  # a proxy's id is kept
        hostile = client.get("/health", headers={"X-Request-ID": "a\tb" + "x" * 100})
        assert len(hostile.headers["X-Request-ID"]) == 32  # replaced, not logged raw
        metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = metric_samples(metrics.text)

    # Per route template: count and latency histogram.
    counts = {
        (s.labels["handler"], s.labels["status"]): s.value for s in samples["http_requests_total"]
    }
    assert counts[("/search", "200")] == 3 and counts[("/health", "200")] == 2
    search_latency = [
        s
        for s in samples["http_request_duration_seconds_count"]
        if s.labels["handler"] == "/search"
    ]
    assert search_latency[0].value == 3
    # Engine and encoder time, observed on the calls the recommender made.
    engine = {
        s.labels["operation"]: s.value
        for s in samples["musicrec_engine_seconds_count"]
        if s.labels["engine"] == "edge"
    }
    assert engine["fused_search"] == 3
    encoder = {s.labels["encoder"]: s.value for s in samples["musicrec_encoder_seconds_count"]}
    assert encoder["lyrics"] == 3
    (model,) = samples["musicrec_model_info"]
    assert model.labels["version"] == "none"  # no collaborative model in this data dir
    (ranker,) = samples["musicrec_ranker_info"]
    assert ranker.labels["version"] == "none"  # nor a learned ranker

    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    requests = [r for r in lines if r["name"] == "musicrec.request"]
    assert {r["message"] for r in requests} >= {"GET /search 200", "GET /health 200"}
    assert any(r["request_id"] == "lb-42" for r in requests)
    assert all(r["request_id"] != "-" and "duration_ms" in r for r in requests)
    assert len({r["request_id"] for r in requests}) == len(requests)  # one id per request


def test_text_logs_by_default_and_metrics_per_app(data_dir, json_log) -> None:
    """Two apps in one process keep separate registries (no duplicate-metric error)."""
    first = create_app(make_settings(data_dir))
    second = create_app(make_settings(data_dir))
    with LiveServer(second) as client:
        client.get("/health")
        text = client.get("/metrics").text
    assert 'handler="/health"' in text
    assert first is not second
    lines = json_log.getvalue().splitlines()
    assert "GET /health 200" in lines  # plain text, not JSON
    assert not any(line.startswith("{") for line in lines)
