"""Building the cached benchmark collection through `EdgeStore`, and the product's own
queries against it."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import COLLECTION, DEFAULTS
from bench.corpus import Real, generate
from bench.machine import load_text, rss_mb
from core.recommend.query import to_filter
from core.recommend.seeds import complete_weights, fetch_seeds, seed_query
from core.store import PointRecord
from core.store.edge import EdgeStore
from schemas.api import Filters
from schemas.layout import LYRICS_TERMS, CollectionLayout
from schemas.tracks import point_id
from schemas.vectors import SparseVector, Vector


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `build` and `collection_tag` read, shared by every script on the cache."""
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musicrec-bench"))
    parser.add_argument("--m", type=int, default=DEFAULTS.hnsw_m)
    parser.add_argument("--ef-construct", type=int, default=DEFAULTS.hnsw_ef_construct)
    parser.add_argument("--quantization", choices=["none", "int8"], default=DEFAULTS.quantization)
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.index_batch_size)
    parser.add_argument("--real-lyrics", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)


def collection_tag(size: int, args: argparse.Namespace) -> str:
    """The cached collection's directory name under --workdir: size and index settings."""
    return f"g2-n{size}-m{args.m}-efc{args.ef_construct}-{args.quantization}"


def open_edge(directory: Path, args: argparse.Namespace, **query: Any) -> EdgeStore:
    return EdgeStore(
        directory / "qdrant",
        COLLECTION,
        hnsw_m=args.m,
        hnsw_ef_construct=args.ef_construct,
        quantization=args.quantization,
        **query,
    )


def build(directory: Path, size: int, real: Real, args: argparse.Namespace) -> dict[str, Any]:
    """Generate, upsert in batches through the product's store, then build HNSW; cached."""
    done = directory / "build.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    started = time.perf_counter()
    corpus = generate(directory, size, real, args.seed)
    generated = time.perf_counter()
    store = open_edge(directory, args)
    store.create(CollectionLayout.model_validate(real.metadata["layout"]), real.metadata)
    rng = np.random.default_rng(args.seed + 1)
    payload_rows = rng.integers(0, len(real.payloads), size=size)
    for start in range(0, size, args.batch_size):
        points = []
        for i in range(start, min(size, start + args.batch_size)):
            payload = real.payloads[i] if i < len(real.payloads) else real.payloads[payload_rows[i]]
            vectors: dict[str, Vector] = {n: corpus.dense[n][i].tolist() for n in corpus.dense}
            row = slice(corpus.terms.indptr[i], corpus.terms.indptr[i + 1])
            vectors[LYRICS_TERMS] = SparseVector(
                tuple(corpus.vocab[corpus.terms.indices[row]].tolist()),
                tuple(corpus.terms.data[row].tolist()),
            )
            payload = {**payload, "track_id": corpus.track_ids[i]}
            points.append(PointRecord(point_id(corpus.track_ids[i]), vectors, payload))
        store.upsert(points)
    upserted = time.perf_counter()
    store.optimize()
    optimized = time.perf_counter()
    rss, peak = rss_mb()
    store.close()
    disk = sum(f.stat().st_size for f in (directory / "qdrant").rglob("*") if f.is_file())
    stats = {
        "points": size,
        "generate_s": round(generated - started, 1),
        "upsert_s": round(upserted - generated, 1),
        "optimize_s": round(optimized - upserted, 1),
        "builder_rss_mb": round(rss),
        "builder_peak_rss_mb": round(peak),
        "disk_mb": round(disk / 2**20),
        "load_after": load_text(),
    }
    done.write_text(json.dumps(stats, indent=1))
    return stats


# --- querying -------------------------------------------------------------------------------
@dataclass
class Query:
    seed_ids: list[str]  # track ids
    queries: dict[str, Vector]
    exclude: list[str]  # point ids


def make_queries(store: EdgeStore, real: Real, n: int, seeds: int, seed: int) -> list[Query]:
    """The Recommender's own query vectors for real seeds (tracks with real lyrics)."""
    rng = np.random.default_rng(seed + 2)
    pool = [p["track_id"] for p in real.payloads[: len(real.lyrics)]]
    out = []
    for _ in range(n):
        ids = [str(t) for t in rng.choice(pool, size=seeds, replace=False)]
        weights = complete_weights({}, {})
        queries = seed_query(ids, [], fetch_seeds(store, ids), weights, Filters(), ids).queries
        vectors = {
            k: v if isinstance(v, SparseVector) else list(map(float, v)) for k, v in queries.items()
        }
        out.append(Query(ids, vectors, [point_id(t) for t in ids]))
    return out


def fused(store: EdgeStore, q: Query, limit: int = 10) -> list[str]:
    """The call `ContentSource.search` makes, with the default fusion settings."""
    hits = store.fused_search(
        q.queries,
        {},
        limit=limit,
        flt=to_filter(Filters(), q.exclude),
        fusion=DEFAULTS.fusion,
        prefetch_limit=DEFAULTS.prefetch_limit,
        rrf_k=DEFAULTS.rrf_k,
        with_vectors=True,
    )
    return [h.id for h in hits]
