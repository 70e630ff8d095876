"""The learned ranker against every signal it combines, through the product's own code.

Playlist continuation on the TidyTuesday playlists (playlist = user), the standard and the
warm-only protocols of docs/evaluation.md. For each protocol, on the training side only:
LightFM is trained (`core.collab.model.train`), the ranker is trained (`core.recommend.
training.train_ranker`, which holds out part of each training playlist for its labels), and
every method is run for each evaluated playlist through `Recommender` and the candidate
sources — the code behind GET /users/{id}/recommendations. The hidden tracks are used only to
score the rankings. Reported: NDCG/P/HR@10 with bootstrap intervals, paired differences of the
ranker against each method, candidate recall of each source and of the pool, feature
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
from core.recommend.features import GROUPS
from core.recommend.training import ranker_params, train_ranker
from core.recommend.user_tracks import UserTrackMatrix
from core.store.edge import EdgeStore
from evaluation.metrics import bootstrap_ci, mean_ci, ranking_metrics
from indexer.pipeline import Indexer
from schemas.settings import Settings
from schemas.tracks import Track, point_id

K = 10
METRICS = (f"NDCG@{K}", f"P@{K}", f"HR@{K}")
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
    store: EdgeStore,
    *,
    seed: int,
    threads: int,
    log: Callable[[str], None],
) -> ProtocolResult:
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

    def served(user: str, collab_weight: float | None) -> list[str]:
        answer = rec.recommend_for_user(user, limit=K, collab_weight=collab_weight)
        return [i.track.id for i in answer.items]

    methods: dict[str, Callable[[str, Any], list[str]]] = {
        RANKER: lambda u, q: served(u, None),
        BLEND: lambda u, q: served(u, 0.8),
        SINGLE[0]: lambda u, q: [t for t, _ in model.recommend(u, K)],
        SINGLE[1]: lambda u, q: [p.track_id for p in cooc.propose(q, K)],
        SINGLE[2]: lambda u, q: [p.track_id for p in artist.propose(q, K)],
        SINGLE[3]: lambda u, q: served(u, 0.0),
        SINGLE[4]: lambda u, q: [p.track_id for p in colistened.propose(q, K)],
    }
    for name, label in CF_ALONE.items():
        if name in by_name:
            source = by_name[name]
            methods[label] = lambda u, q, s=source: [p.track_id for p in s.propose(q, K)]
    rankings: dict[str, dict[str, list[str]]] = {m: {} for m in methods}
    timing: dict[str, float] = dict.fromkeys(methods, 0.0)
    pool_hits: dict[str, list[float]] = {}
    for user in users:
        q = rec.user_query(user)
        for method, fn in methods.items():
            t0 = time.perf_counter()
            rankings[method][user] = fn(user, q)
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
    for method, ranked in rankings.items():
        values = ranking_metrics(((ranked[u], protocol.hidden[u]) for u in users), [K])
        result.per_query[method] = {m: values[m] for m in METRICS}
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
            if method != RANKER
        }
        out[r.name] = block
    return out


def report(results: Sequence[ProtocolResult], numbers: dict, command: str) -> str:
    """The markdown report: tables, verdict against the 1.2x bar, recall, importances."""
    lines = [
        "# Learned ranker: evaluation",
        "",
        f"Produced by `{command}`. Playlist continuation on the TidyTuesday playlists "
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
        lines += ["| method | " + " | ".join(METRICS) + " | ranker − method, NDCG@10 |"]
        lines += ["|---" * (len(METRICS) + 2) + "|"]
        singles = [*SINGLE, *(m for m in CF_ALONE.values() if m in block)]
        for method in (RANKER, BLEND, *singles):
            cells = [_fmt(block[method][m]) for m in METRICS]
            diff = block["paired: ranker minus"].get(method, {}).get(ndcg)
            lines.append(
                f"| {method} | " + " | ".join(cells) + f" | {_fmt(diff) if diff else ''} |"
            )
        best = max(singles, key=lambda m: block[m][ndcg][0])
        ratio = block[RANKER][ndcg][0] / max(block[best][ndcg][0], 1e-12)
        diff = block["paired: ranker minus"][best][ndcg]
        blend = block["paired: ranker minus"][BLEND][ndcg]
        lines += [
            "",
            f"Best single signal: {best}. Ranker / best = **{ratio:.2f}x** (bar 1.2x); paired "
            f"difference {_fmt(diff)} ({'excludes' if diff[1] > 0 or diff[2] < 0 else 'includes'}"
            f" 0); against the linear blend {_fmt(blend)}.",
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


def _fmt(triple: Sequence[float]) -> str:
    mean, low, high = triple
    return f"{mean:.4f} [{low:.4f}, {high:.4f}]"


def cooccurrence_cost(index: UserTrackMatrix, users: Sequence[str], seed: int) -> dict:
    """ms per co-occurrence query on the real matrix and on a synthetic one at 160k tracks
    (100k users × 50 tracks each, Zipf-like track popularity)."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    for u in users:
        index.cooccurrence.cache_clear()
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
