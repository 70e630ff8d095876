"""The learned ranker against every signal it combines, through the product's own code.

Playlist continuation on the TidyTuesday playlists (playlist = user), the standard and the
warm-only protocols of docs/evaluation.md. For each protocol, on the training side only:
LightFM is trained (`core.collab.model.train`), the ranker is trained (`core.recommend.
training.train_ranker`, which holds out part of each training playlist for its labels), and
every method is run for each evaluated playlist through `Recommender` and the candidate
sources — the code behind GET /users/{id}/recommendations. Beside them, the strong
collaborative baselines (evaluation.methods.cf: EASE^R, iALS, BPR, RP3β, ItemKNN, UserKNN),
each tuned on a validation split of the training side (evaluation.tuning). The hidden tracks
are used only to score the rankings, once. Reported: NDCG/P/HR@10 and R-precision with
bootstrap intervals, the beyond-accuracy metrics (coverage of the top 10, mean popularity
percentile, Gini of exposure), paired differences of the ranker against each method, the
grids and chosen values, candidate recall of each source and of the pool, feature
importances, the share of unseen-in-training tracks in the ranker's top 10, timings.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.artefacts import Fixed
from core.collab.model import CollaborativeModel
from core.collab.training import train
from core.encoders.base import Encoder
from core.recommend.factory import build_recommender
from core.recommend.sources.base import CandidateSource
from core.recommend.training import ranker_params, train_ranker
from core.recommend.user_tracks import UserTrackMatrix
from core.store import VectorStore
from core.store.edge import EdgeStore
from evaluation.methods.cf import baselines
from evaluation.metrics import (
    beyond_accuracy,
    bootstrap_ci,
    mean_ci,
    r_precision,
    ranking_metrics,
)
from evaluation.tuning import run_baseline
from indexer.pipeline import Indexer
from schemas.settings import Settings
from schemas.tracks import Track, point_id

K = 10
METRICS = (f"NDCG@{K}", f"P@{K}", f"HR@{K}", "R-prec")
BEYOND = ("coverage", "popularity percentile", "Gini of exposure")
RANKER = "learned ranker"
BLEND = "linear blend (collab_weight 0.8)"
SINGLE = (
    "LightFM alone",
    "co-occurrence",
    "same artist",
    "content fusion",
    "co-listened artists",
)
# The product's own collaborative models (fitted on the training side by `train_ranker`),
# each alone: the strong baselines as the product serves them.
CF_ALONE = {"ease": "EASE alone", "ials": "iALS alone", "rp3beta": "RP3β alone",
            "userknn": "similar listeners alone"}  # fmt: skip


@dataclass
class Protocol:
    name: str
    train_rows: pd.DataFrame  # user_id, track_id
    hidden: dict[str, set[str]]
    catalog: list[Track]


@dataclass
class ProtocolResult:
    name: str
    per_query: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    importance: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    beyond: dict[str, dict[str, float]] = field(default_factory=dict)
    # baseline -> {"grid": ..., "chosen": ..., "validation NDCG@10": ..., "fit seconds": ...}
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)


def protocols(
    rows: pd.DataFrame, split: tuple[pd.DataFrame, dict], catalog: Sequence[Track]
) -> list[Protocol]:
    """Standard, and warm-only (tracks with no training row leave the catalog and the hidden
    sets: otherwise "never seen in training" marks the answers, see docs/evaluation.md)."""
    train_rows, hidden = split
    hidden_sets = {u: set(map(str, v)) for u, v in hidden.items()}
    warm = set(train_rows["track_id"])
    warm_hidden = {u: h & warm for u, h in hidden_sets.items() if h & warm}
    return [
        Protocol("standard", train_rows, hidden_sets, list(catalog)),
        Protocol("warm-only", train_rows, warm_hidden, [t for t in catalog if t.id in warm]),
    ]


@contextmanager
def indexed_store(csv_path: Path, encoders: list[Encoder], directory: Path | None = None):
    """A Qdrant Edge collection filled by the product's indexer, exact search (an evaluation
    should not measure the ANN's recall). Throw-away unless `directory` is given; there a
    second run only re-indexes what changed (the warm-only protocol deletes points)."""
    with tempfile.TemporaryDirectory(prefix="musicrec-ranker-eval-") as tmp:
        store = EdgeStore(directory or Path(tmp), "tracks", exact_search_below=10**9)
        Indexer(store, encoders, optimize_above=10**9, progress=False).run(
            csv_path, schema="kaggle"
        )
        try:
            yield store
        finally:
            store.close()


def run_protocol(
    protocol: Protocol,
    store: VectorStore,
    *,
    seed: int,
    threads: int,
    log: Callable[[str], None],
    baselines: bool = True,
) -> ProtocolResult:
    """The product (learned ranker, blend) and the signals it combines, trained on the
    protocol's training side over `store`, answering every hidden user; with `baselines`, the
    tuned strong baselines too (scripts/eval_dense.py runs those in processes of their own)."""
    result = ProtocolResult(protocol.name)
    present = {t.id for t in protocol.catalog}
    stored = {r.payload["track_id"] for batch in store.scroll() for r in batch}
    gone = [point_id(t) for t in stored - present]
    if gone:
        store.delete(gone)  # the warm-only catalog
    users = sorted(protocol.hidden)
    trained = set(protocol.train_rows["track_id"])

    def fit(part: pd.DataFrame) -> CollaborativeModel:
        return train(part, protocol.catalog, num_threads=threads, seed=seed)

    started = time.perf_counter()
    model = fit(protocol.train_rows)
    result.facts["lightfm_seconds"] = round(time.perf_counter() - started, 1)
    # What serves: the settings' defaults (and MUSICREC_* overrides), through the factory.
    settings = Settings()
    base = build_recommender(settings, store, collab=Fixed(model))
    started = time.perf_counter()
    params = replace(ranker_params(settings), threads=threads, seed=seed)
    artefact = train_ranker(protocol.train_rows, base, fit, params, log, cf=settings)
    result.facts["ranker_train_seconds"] = round(time.perf_counter() - started, 1)
    result.facts["ranker_train_cpu_seconds"] = round(artefact.metadata["train_cpu_seconds"], 1)
    result.facts["ranker"] = artefact.metadata["counts"]
    rec = replace(base, ranker=Fixed(artefact))
    by_name = {a.spec.name: a.source for a in rec.sources}
    cooc, artist, colistened = by_name["cooccurrence"], by_name["artist"], by_name["colistened"]

    def served(user: str, collab_weight: float | None, n: int) -> list[str]:
        answer = rec.recommend_for_user(user, limit=n, collab_weight=collab_weight)
        return [i.track.id for i in answer.items]

    # Each method answers n deep (n = max(K, |hidden|): R-precision reads |hidden| results).
    methods: dict[str, Callable[[str, Any, int], list[str]]] = {
        RANKER: lambda u, q, n: served(u, None, n),
        BLEND: lambda u, q, n: served(u, 0.8, n),
        SINGLE[0]: lambda u, q, n: [t for t, _ in model.recommend(u, n)],
        SINGLE[1]: lambda u, q, n: [p.track_id for p in cooc.propose(q, n)],
        SINGLE[2]: lambda u, q, n: [p.track_id for p in artist.propose(q, n)],
        SINGLE[3]: lambda u, q, n: served(u, 0.0, n),
        SINGLE[4]: lambda u, q, n: [p.track_id for p in colistened.propose(q, n)],
        **(tuned_baselines(protocol, seed, threads, result, log) if baselines else {}),
    }
    for name, label in CF_ALONE.items():
        if name in by_name:
            methods[label] = proposals(by_name[name])
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in methods}
    timing: dict[str, float] = dict.fromkeys(methods, 0.0)
    pool_hits: dict[str, list[float]] = {}
    for user in users:
        q = rec.user_query(user)
        depth = max(K, len(protocol.hidden[user]))
        for method, fn in methods.items():
            t0 = time.perf_counter()
            rankings[method][user] = fn(user, q, depth)
            timing[method] += time.perf_counter() - t0
        pool = rec.scored_pool(q, 0, features=True)
        hidden = protocol.hidden[user]
        for name in ["pool (union)", *sorted({s for c in pool for s in c.candidate.sources})]:
            found = {
                c.candidate.track_id
                for c in pool
                if name == "pool (union)" or name in c.candidate.sources
            }
            pool_hits.setdefault(name, []).append(len(found & hidden) / len(hidden))
        pool_hits.setdefault("pool size", []).append(len(pool))
    score_rankings(result, protocol, rankings)
    for method in rankings:
        if method not in result.tuning:  # the baselines' batch time is recorded already
            result.facts[f"ms/query {method}"] = round(1000 * timing[method] / len(users), 1)
    result.recall = {
        name: float(np.mean(v)) for name, v in pool_hits.items() if name != "pool size"
    }
    result.facts["mean pool size"] = round(float(np.mean(pool_hits["pool size"])), 1)
    result.facts["unseen share in ranker top 10"] = round(
        float(np.mean([t not in trained for u in users for t in rankings[RANKER][u]])), 4
    )
    result.facts["playlists"] = len(users)
    result.facts["catalog"] = len(protocol.catalog)
    assert artefact.booster is not None
    gain = artefact.booster.feature_importance("gain")
    total = float(gain.sum()) or 1.0
    names = rec.layout.names
    result.importance = {f: float(g) / total for f, g in zip(names, gain, strict=True)}
    return result


def score_rankings(
    result: ProtocolResult, protocol: Protocol, rankings: dict[str, dict[str, list[str]]]
) -> None:
    """Per-playlist NDCG/P/HR@10 and R-precision, and the beyond-accuracy metrics of the top
    10 against the training-side popularity, for every method's rankings."""
    users = sorted(protocol.hidden)
    popularity = protocol.train_rows["track_id"].value_counts()
    catalog_popularity = {t.id: float(popularity.get(t.id, 0)) for t in protocol.catalog}
    for method, ranked in rankings.items():
        values = ranking_metrics(((ranked[u], protocol.hidden[u]) for u in users), [K])
        values["R-prec"] = np.array([r_precision(ranked[u], protocol.hidden[u]) for u in users])
        result.per_query[method] = {m: values[m] for m in METRICS}
        result.beyond[method] = beyond_accuracy((ranked[u] for u in users), catalog_popularity, K)


def run_baselines(
    protocol: Protocol,
    *,
    seed: int,
    threads: int,
    log: Callable[[str], None],
    max_items: int | None = None,
    max_validation_users: int | None = None,
) -> ProtocolResult:
    """The strong baselines alone on a protocol (no index, no product): what
    `scripts/eval_ranker.py --baselines-only` and the dense check (scripts/eval_dense.py) run."""
    result = ProtocolResult(protocol.name)
    answers = tuned_baselines(protocol, seed, threads, result, log, max_items, max_validation_users)
    users = sorted(protocol.hidden)
    rankings = {
        name: {u: fn(u, None, max(K, len(protocol.hidden[u]))) for u in users}
        for name, fn in answers.items()
    }
    score_rankings(result, protocol, rankings)
    result.facts["playlists"] = len(users)
    result.facts["catalog"] = len(protocol.catalog)
    return result


def tuned_baselines(
    protocol: Protocol,
    seed: int,
    threads: int,
    result: ProtocolResult,
    log: Callable[[str], None],
    max_items: int | None = None,
    max_validation_users: int | None = None,
    small: bool = False,
) -> dict[str, Callable[[str, Any, int], list[str]]]:
    """Every strong baseline tuned on the training side (grid and choice recorded in
    `result.tuning`), refitted on the whole training side; name -> answer(user, _, n).
    Answers are computed for all playlists in batches up front (ms/query is that time per
    playlist), then looked up."""
    out: dict[str, Callable[[str, Any, int], list[str]]] = {}
    for baseline in baselines(seed, threads, max_items, small):
        run = run_baseline(baseline, protocol, seed, max_validation_users)
        result.tuning[baseline.name] = run.tuning
        result.facts[f"ms/query {baseline.name}"] = run.ms_per_query
        log(f"{protocol.name}: {baseline.name} {run.tuning}")
        out[baseline.name] = stored(run.answers)
    return out


def summary(results: Sequence[ProtocolResult], rounds: int, seed: int) -> dict:
    """protocol → method → metric → [mean, low, high] (the JSON the report is written from),
    plus paired differences of the ranker against every other method."""
    out: dict[str, Any] = {}
    for r in results:
        block: dict[str, Any] = {
            method: {m: list(mean_ci(v, rounds=rounds, seed=seed)) for m, v in values.items()}
            for method, values in r.per_query.items()
        }
        block["paired: ranker minus"] = {
            method: {
                m: [
                    float(np.mean(r.per_query[RANKER][m] - values[m])),
                    *bootstrap_ci(r.per_query[RANKER][m] - values[m], rounds=rounds, seed=seed),
                ]
                for m in METRICS
            }
            for method, values in r.per_query.items()
            if method != RANKER and RANKER in r.per_query
        }
        block["beyond accuracy"] = r.beyond
        block["tuning"] = r.tuning
        out[r.name] = block
    return out


def stored(answers: dict[str, list[str]]) -> Callable[[str, Any, int], list[str]]:
    """Answers computed ahead (a tuned baseline ranks every playlist at once), read n deep."""
    return lambda user, query, n: answers[user][:n]


def proposals(source: CandidateSource) -> Callable[[str, Any, int], list[str]]:
    """A source alone as a method: its own n best proposals for the query."""
    return lambda user, query, n: [p.track_id for p in source.propose(query, n)]


def cooccurrence_cost(index: UserTrackMatrix, users: Sequence[str], seed: int) -> dict:
    """ms per co-occurrence query on the real matrix and on a synthetic one at 160k tracks
    (100k users × 50 tracks each, Zipf-like track popularity)."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for u in users:
        index.history_cooccurrence(index.user_tracks(u))
    out["real ms/query"] = round(1000 * (time.perf_counter() - t0) / max(len(users), 1), 3)
    rng = np.random.default_rng(seed)
    n_users, n_tracks, per_user = 100_000, 160_000, 50
    weights = 1.0 / np.arange(1, n_tracks + 1) ** 0.8
    cols = rng.choice(n_tracks, size=n_users * per_user, p=weights / weights.sum())
    rows = np.repeat(np.arange(n_users), per_user)
    matrix = sp.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), (n_users, n_tracks))
    big = UserTrackMatrix(
        [str(i) for i in range(n_users)], [str(i) for i in range(n_tracks)], matrix
    )
    t0 = time.perf_counter()
    probes = rng.choice(n_users, 50, replace=False)
    for u in probes:
        big.history_cooccurrence(big.user_tracks(str(u)))
    out["160k tracks, 5M interactions ms/query"] = round(
        1000 * (time.perf_counter() - t0) / len(probes), 2
    )
    return out
