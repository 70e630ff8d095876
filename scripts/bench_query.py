"""Fused-query latency, recall and memory at catalog scale (160k and 1M tracks).

    python scripts/bench_query.py --workdir /tmp/musicrec-bench --sizes 160000
    python scripts/bench_query.py --workdir /tmp/musicrec-bench --sizes 160000 1000000 \
        --quantization int8

No real catalog of that size is available offline, so the collections hold the real vectors
(standardized audio features of the ~28k TidyTuesday tracks, a few hundred billboard lyrics
embedded by the product's LyricsEncoder with their BM25 terms) plus synthetic vectors drawn
from Gaussian mixtures fitted on real vectors (covers: the 500 real Discogs covers through the
product's CNN encoder). Uniform random vectors would make HNSW look better or worse for
reasons that have nothing to do with music. Which real lyric sits on which real track is
arbitrary; the queries are the real tracks with real lyrics and audio.

Everything goes through the product: collections are written with `EdgeStore.upsert` in
batches and indexed with `EdgeStore.optimize`, queries are the Recommender's, and the HTTP rows
run `python -m api` (uvicorn on 127.0.0.1) as a separate process whose RSS is reported.
Built collections are cached under --workdir, keyed by size and index settings.
Needs the `eval` extra (scikit-learn, for the mixture fit).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np
import scipy.sparse as sp

from core.encoders.audio import AudioEncoder, AudioScaler
from core.encoders.cover import CnnCoverEncoder, load_image
from core.encoders.lyrics import LyricsEncoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from core.recommend.query import to_filter
from core.recommend.seeds import complete_weights, fetch_seeds, seed_query
from core.store import PointRecord
from core.store.edge import EdgeStore
from indexer.catalog import read_catalog
from schemas.api import Filters
from schemas.layout import COVER, DENSE_MODALITIES, LYRICS_TERMS, CollectionLayout, build_layout
from schemas.settings import Settings
from schemas.tracks import point_id
from schemas.vectors import SparseVector, Vector

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
COLLECTION = "bench"
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]


def proc_status_mb(pid: int | str, *keys: str) -> list[float]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return [int(fields[k].split()[0]) / 1024 for k in keys]


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(current, peak) resident set size of a process in MiB."""
    current, peak = proc_status_mb(pid, "VmRSS", "VmHWM")
    return current, peak


def rss_by_mapping(pid: int | str) -> dict[str, float]:
    """Resident MiB by what is mapped: anonymous memory, each Qdrant segment file kind
    (vector storage, quantized vectors, HNSW links, …), other files (shared libraries)."""
    totals: dict[str, float] = {}
    kind = "anonymous"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if len(head) >= 5 and "-" in head[0] and ":" not in head[0]:
            path = head[5] if len(head) > 5 else ""
            if "/segments/" in path:
                kind = "segment " + Path(path).name
            elif path.startswith("/"):
                kind = "other files"
            else:
                kind = "anonymous"
        elif line.startswith("Rss:"):
            totals[kind] = totals.get(kind, 0.0) + int(line.split()[1]) / 1024
    return {k: round(v) for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v >= 5}


def load_text() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# --- real vectors ---------------------------------------------------------------------------
@dataclass
class Real:
    audio: np.ndarray  # (tracks, 13), unit rows
    payloads: list[dict[str, Any]]
    lyrics: np.ndarray  # (n_lyrics, 384), unit rows
    terms: list[SparseVector]  # BM25 terms of the same lyrics
    covers: np.ndarray  # (500, 1280), unit rows
    metadata: dict[str, Any]  # scaler and encoder ids: the collection's own metadata


def real_corpus(workdir: Path, n_lyrics: int) -> Real:
    """Encode the real data once (about a minute) and cache the vectors."""
    cache = workdir / f"real-{n_lyrics}.npz"
    meta_path = cache.with_suffix(".json")
    if cache.exists() and meta_path.exists():
        arrays = np.load(cache)
        meta = json.loads(meta_path.read_text())
        terms = [SparseVector(tuple(i), tuple(v)) for i, v in meta.pop("terms")]
        payloads = meta.pop("payloads")
        return Real(
            arrays["audio"], payloads, arrays["lyrics"], terms, arrays["covers"], meta["metadata"]
        )
    tracks = [t for b in read_catalog(SHARED / "tidytuesday_spotify_songs.csv") for t in b]
    tracks = [t for t in tracks if t.audio is not None]
    scaler = AudioScaler.fit(t.audio for t in tracks)
    audio = AudioEncoder(scaler)
    audio_vectors = unit_rows(np.stack([audio.vector(t.audio) for t in tracks]))  # type: ignore[arg-type]
    with (SHARED / "billboard_lyrics.csv").open(newline="", encoding="utf-8") as fh:
        texts = [r["lyrics"] for r in csv.DictReader(fh) if r["lyrics"].strip()][:n_lyrics]
    lyrics_encoder = LyricsEncoder(DEFAULTS.lyrics_model)
    lyrics = np.stack(lyrics_encoder.encode(texts))  # type: ignore[arg-type]
    terms_encoder = LyricsTermsEncoder()
    terms = [t for t in terms_encoder.encode(texts) if t is not None]
    cover_encoder = CnnCoverEncoder()
    with (SHARED / "covers" / "covers.csv").open(newline="", encoding="utf-8") as fh:
        files = [SHARED / "covers" / r["file"] for r in csv.DictReader(fh)]
    covers = np.stack(cover_encoder.encode([load_image(f.read_bytes()) for f in files]))  # type: ignore[arg-type]
    layout = build_layout(
        {e.vector_name: (e.dim, e.encoder_id) for e in (lyrics_encoder, cover_encoder, audio)},
        {terms_encoder.vector_name: terms_encoder.encoder_id},
    )
    metadata = {"audio_scaler": scaler.to_dict(), "layout": layout.model_dump()}
    real = Real(audio_vectors, [t.payload() for t in tracks], lyrics, terms, covers, metadata)
    np.savez(cache, audio=real.audio, lyrics=real.lyrics, covers=real.covers)
    meta_path.write_text(
        json.dumps(
            {
                "metadata": metadata,
                "payloads": real.payloads,
                "terms": [[list(t.indices), list(t.values)] for t in terms],
            }
        )
    )
    return real


class Mixture:
    """A Gaussian mixture fitted on real vectors in their principal axes: k-means centres,
    per-cluster spread along each axis, cluster weights.

    Fitting in the PCA basis keeps the real spectrum (a few strong directions, a long weak
    tail); a diagonal fit in the raw basis would give near-isotropic noise, whose neighbours
    are all about equally far: much harder for HNSW than real embeddings.
    """

    def __init__(self, x: np.ndarray, k: int, seed: int) -> None:
        from sklearn.cluster import KMeans

        self.mean = x.mean(axis=0)
        self.axes = np.linalg.svd(x - self.mean, full_matrices=False)[2]
        z = (x - self.mean) @ self.axes.T
        k = min(k, len(x) // 8)
        labels = KMeans(k, n_init=3, random_state=seed).fit_predict(z)
        self.centres = np.stack([z[labels == c].mean(axis=0) for c in range(k)])
        self.spread = np.stack([z[labels == c].std(axis=0) for c in range(k)])
        self.weights = np.bincount(labels, minlength=k) / len(x)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        c = rng.choice(len(self.weights), size=n, p=self.weights)
        z = self.centres[c] + rng.standard_normal((n, self.centres.shape[1])) * self.spread[c]
        return unit_rows(z @ self.axes + self.mean)


def terms_matrix(terms: list[SparseVector]) -> tuple[sp.csr_matrix, np.ndarray]:
    """(rows × vocabulary CSR, the term id of each column)."""
    vocab = np.array(sorted({i for v in terms for i in v.indices}), dtype=np.int64)
    return sp.csr_matrix(
        (
            np.concatenate([v.values for v in terms]),
            np.searchsorted(vocab, np.concatenate([v.indices for v in terms])),
            np.cumsum([0, *(len(v.indices) for v in terms)]),
        ),
        shape=(len(terms), len(vocab)),
    ), vocab


# --- building -------------------------------------------------------------------------------
@dataclass
class Corpus:
    """The collection's vectors as numpy (row i = point i), for the brute-force floor."""

    dense: dict[str, np.ndarray]
    terms: sp.csr_matrix  # BM25 term weights, columns are `vocab`
    vocab: np.ndarray
    track_ids: list[str]


def synthetic_ids(size: int, real: Real) -> list[str]:
    n_real = min(size, len(real.audio))
    return [real.payloads[i]["track_id"] for i in range(n_real)] + [
        f"synthetic-{i:07d}" for i in range(n_real, size)
    ]


def generate(directory: Path, size: int, real: Real, seed: int) -> Corpus:
    """Row i < len(real.audio) is a real track; rows below len(real.lyrics) have real lyrics.

    Synthetic BM25 terms are a real lyric's terms, thinned and reweighted at random, so no
    two tracks tie on every term (copies would make the sparse ranking a tie-break lottery).
    """
    rng = np.random.default_rng(seed)
    fitted = dict(zip(DENSE_MODALITIES, (real.lyrics, real.covers, real.audio), strict=True))
    dense = {}
    for name, x in fitted.items():
        mixture = Mixture(x, 32, seed)
        out = np.lib.format.open_memmap(
            directory / f"{name}.npy", mode="w+", dtype=np.float32, shape=(size, x.shape[1])
        )
        keep = 0 if name == COVER else min(size, len(x))  # no real cover belongs to a track
        out[:keep] = x[:keep]
        for start in range(keep, size, 50_000):
            stop = min(size, start + 50_000)
            out[start:stop] = mixture.sample(stop - start, rng)
        out.flush()
        dense[name] = out
    real_terms, vocab = terms_matrix(real.terms)
    source = rng.integers(0, len(real.terms), size=size)
    source[: len(real.terms)] = np.arange(min(size, len(real.terms)))
    terms = real_terms[source].tocsr()
    synthetic = np.repeat(np.arange(size) >= len(real.terms), np.diff(terms.indptr))
    first = np.zeros(terms.nnz, dtype=bool)
    first[terms.indptr[:-1][np.diff(terms.indptr) > 0]] = True
    drop = synthetic & ~first & (rng.random(terms.nnz) < 0.3)
    terms.data = np.where(synthetic, terms.data * rng.lognormal(0, 0.3, terms.nnz), terms.data)
    terms.data[drop] = 0
    terms.eliminate_zeros()
    sp.save_npz(directory / "terms.npz", terms)
    np.save(directory / "vocab.npy", vocab)
    return Corpus(dense, terms, vocab, synthetic_ids(size, real))


def load_corpus(directory: Path, size: int, real: Real) -> Corpus:
    return Corpus(
        {name: np.load(directory / f"{name}.npy", mmap_mode="r") for name in DENSE_MODALITIES},
        sp.load_npz(directory / "terms.npz").tocsr(),
        np.load(directory / "vocab.npy"),
        synthetic_ids(size, real),
    )


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
        vectors = {k: v if isinstance(v, SparseVector) else v.tolist() for k, v in queries.items()}
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


class BruteForce:
    """The exact fused query in numpy: the floor any engine has to beat."""

    def __init__(self, corpus: Corpus) -> None:
        self.dense = {n: np.ascontiguousarray(m) for n, m in corpus.dense.items()}
        self.terms, self.vocab = corpus.terms, corpus.vocab
        df = np.bincount(self.terms.indices, minlength=len(self.vocab))
        n = self.terms.shape[0]
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))  # Qdrant's IDF modifier
        self.point_ids = [point_id(t) for t in corpus.track_ids]
        self.row = {p: i for i, p in enumerate(self.point_ids)}

    def scores(self, name: str, query: Vector) -> np.ndarray:
        if isinstance(query, SparseVector):
            columns = np.searchsorted(self.vocab, query.indices)
            known = self.vocab[np.minimum(columns, len(self.vocab) - 1)] == query.indices
            q = np.zeros(len(self.vocab))
            q[columns[known]] = np.asarray(query.values)[known]
            return self.terms @ (q * self.idf)
        return self.dense[name] @ np.asarray(query, dtype=np.float32)

    def __call__(self, q: Query, limit: int = 10) -> list[str]:
        k, depth = DEFAULTS.rrf_k, DEFAULTS.prefetch_limit
        excluded = [self.row[p] for p in q.exclude]
        total: dict[int, float] = {}
        for name, vector in q.queries.items():
            s = self.scores(name, vector)
            s[excluded] = -np.inf
            top = np.argpartition(-s, depth)[:depth]
            top = top[np.argsort(-s[top], kind="stable")]
            for rank, i in enumerate(top[np.isfinite(s[top]) & (s[top] > 0)]):
                total[int(i)] = total.get(int(i), 0.0) + 1.0 / (k + rank)
        best = sorted(total, key=lambda i: -total[i])[:limit]
        return [self.point_ids[i] for i in best]


def timed(
    fn: Callable[[Any], Any], items: Sequence[Any], concurrency: int = 1
) -> tuple[list[float], float, list[Any]]:
    """(latencies ms, throughput per s, results) of fn over items, `concurrency` at a time."""

    def one(item: Any) -> tuple[float, Any]:
        t = time.perf_counter()
        result = fn(item)
        return (time.perf_counter() - t) * 1000, result

    started = time.perf_counter()
    if concurrency == 1:
        out = [one(i) for i in items]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            out = list(pool.map(one, items))
    elapsed = time.perf_counter() - started
    return [ms for ms, _ in out], len(items) / elapsed, [r for _, r in out]


def recall(found: list[list[str]], truth: list[list[str]]) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / max(1, sum(len(t) for t in truth))


def exact_rrf(store: EdgeStore, q: Query) -> dict[str, float]:
    """Every candidate's fused score from the exact per-modality rankings.

    RRF scores tie by construction (rank r in any one list scores 1/(k + r)), so the tenth
    place is often shared and which tied track the engine returns is arbitrary. As in
    ann-benchmarks, a returned track counts as a hit when its exact score reaches the tenth
    exact score.
    """
    flt = to_filter(Filters(), q.exclude)
    scores: dict[str, float] = {}
    for name, vector in q.queries.items():
        hits = store.search(name, vector, DEFAULTS.prefetch_limit, flt=flt)
        for rank, hit in enumerate(hits):  # Qdrant counts ranks from 0
            scores[hit.id] = scores.get(hit.id, 0.0) + 1.0 / (DEFAULTS.rrf_k + rank)
    return scores


def tie_aware_recall(found: list[list[str]], exact: list[dict[str, float]], k: int = 10) -> float:
    hits = 0
    for ids, scores in zip(found, exact, strict=True):
        kth = sorted(scores.values(), reverse=True)[k - 1]
        hits += sum(scores.get(i, 0.0) >= kth - 1e-9 for i in ids)
    return hits / (k * len(found))


@dataclass
class Row:
    what: str
    ms: list[float]
    qps: float
    qps_concurrent: float | None = None
    recall: float | None = None
    detail: str = ""

    def markdown(self) -> str:
        q = statistics.quantiles(self.ms, n=100, method="inclusive")
        conc = "" if self.qps_concurrent is None else f"{self.qps_concurrent:.0f}"
        rec = "" if self.recall is None else f"{self.recall:.3f}"
        return (
            f"| {self.what} | {q[49]:.1f} | {q[94]:.1f} | {q[98]:.1f} | {self.qps:.0f} | {conc} "
            f"| {rec} | {self.detail} |"
        )


def single_top10(store: EdgeStore, queries: list[Query]) -> dict[str, list[list[str]]]:
    """Per-modality top 10 (one named vector each): tells which graph limits fused recall."""
    return {
        name: [
            [
                h.id
                for h in store.search(
                    name, q.queries[name], 10, flt=to_filter(Filters(), q.exclude)
                )
            ]
            for q in queries
        ]
        for name in DENSE_MODALITIES
    }


def engine_rows(directory: Path, size: int, real: Real, args: argparse.Namespace) -> list[Row]:
    """Exact search, the numpy floor, then HNSW at each hnsw_ef (a store constructor setting)."""
    exact = open_edge(directory, args, exact_search_below=size + 1)
    queries = make_queries(exact, real, args.queries, args.seeds, args.seed)
    fused(exact, queries[0])  # warm
    ms, qps, truth = timed(lambda q: fused(exact, q), queries)
    _, qps_c, _ = timed(lambda q: fused(exact, q), queries, args.concurrency[-1])
    truth_single = single_top10(exact, queries)
    truth_scores = [exact_rrf(exact, q) for q in queries]
    exact.close()
    rows = [Row("engine fused, exact (ground truth)", ms, qps, qps_c)]
    if not args.skip_numpy:
        brute = BruteForce(load_corpus(directory, size, real))
        brute(queries[0])
        ms, qps, found = timed(brute, queries)
        rows.append(
            Row(
                "numpy brute force, same fused query",
                ms,
                qps,
                None,
                tie_aware_recall(found, truth_scores),
                f"agreement with engine exact (ids alone: {recall(found, truth):.3f})",
            )
        )
        del brute
    for ef in args.ef:
        store = open_edge(directory, args, hnsw_ef=ef, exact_search_below=0)
        fused(store, queries[0])
        ms, qps, found = timed(lambda q, s=store: fused(s, q), queries)
        _, qps_c, _ = timed(lambda q, s=store: fused(s, q), queries, args.concurrency[-1])
        single = single_top10(store, queries)
        store.close()
        detail = ", ".join(f"{n} {recall(single[n], truth_single[n]):.3f}" for n in single)
        detail += f"; fused, ids alone: {recall(found, truth):.3f}"
        rows.append(
            Row(
                f"engine fused, HNSW ef={ef}",
                ms,
                qps,
                qps_c,
                tie_aware_recall(found, truth_scores),
                f"single-vector recall@10: {detail}",
            )
        )
    return rows


# --- over HTTP ------------------------------------------------------------------------------
class MemoryLimit:
    """A cgroup with a hard memory limit for the API process (cgroup v2, or v1's memory
    controller).

    VmRSS counts clean file pages — vectors memory-mapped from disk, the HNSW graphs, shared
    libraries — that the kernel drops under memory pressure, so it overstates what a process
    needs. Serving under a hard limit shows what it needs: the kernel reclaims those pages to
    stay under it, and kills the process if what remains does not fit. The page cache is
    dropped first: a page already cached by an earlier run stays charged to whoever read it
    first, and the limit would not see it.
    """

    def __init__(self, limit_mb: int) -> None:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        root = Path("/sys/fs/cgroup") if v2 else Path("/sys/fs/cgroup/memory")
        self.v2 = v2
        self.path = root / f"musicrec-bench-{os.getpid()}"
        try:
            self.path.mkdir(exist_ok=True)
            limit = str(limit_mb * 2**20)
            (self.path / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(limit)
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3")
        except OSError as exc:
            raise SystemExit(
                f"--memory-limit-mb needs a writable memory cgroup under {root} (root, cgroup v1 "
                f"memory controller or v2) and /proc/sys/vm/drop_caches: {exc}"
            ) from exc

    def enter(self) -> None:
        """Runs in the child between fork and exec: everything the API allocates is charged."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def stats(self) -> dict[str, float]:
        def read(name: str) -> str:
            return (self.path / name).read_text()

        if self.v2:
            peak = int(read("memory.peak")) if (self.path / "memory.peak").exists() else 0
            events = dict(line.split() for line in read("memory.events").splitlines())
            return {"cgroup_peak_mb": peak / 2**20, "oom_kills": float(events["oom_kill"])}
        oom = dict(line.split() for line in read("memory.oom_control").splitlines())
        return {
            "cgroup_peak_mb": int(read("memory.max_usage_in_bytes")) / 2**20,
            "oom_kills": float(oom.get("oom_kill", 0)),
        }

    def remove(self) -> None:
        self.path.rmdir()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_rows(
    directory: Path, size: int, real: Real, args: argparse.Namespace
) -> tuple[list[Row], dict[str, float]]:
    """`python -m api` on the collection, as a user runs it; its RSS before and after load."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MUSICREC_DATA_DIR": str(directory / "api-data"),
        "MUSICREC_QDRANT_PATH": str(directory / "qdrant"),
        "MUSICREC_COLLECTION": COLLECTION,
        "MUSICREC_API_PORT": str(port),
        "MUSICREC_HNSW_EF": str(args.ef[0]),
        "MUSICREC_EXACT_SEARCH_BELOW": str(args.exact_search_below),
        "MUSICREC_QUANTIZATION": args.quantization,
    }
    log = (directory / "api.log").open("w")
    limit = MemoryLimit(args.memory_limit_mb) if args.memory_limit_mb else None
    proc = subprocess.Popen(
        [sys.executable, "-m", "api"],
        env=env,
        cwd=directory,
        stdout=log,
        stderr=log,
        preexec_fn=limit.enter if limit else None,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API did not start: {(directory / 'api.log').read_text()}")
            time.sleep(0.2)
        idle = rss_mb(proc.pid)[0]
        idle_mappings = rss_by_mapping(proc.pid)
        rng = np.random.default_rng(args.seed + 3)
        pool = [p["track_id"] for p in real.payloads[: len(real.lyrics)]]
        bodies = [
            {"positive": [str(t) for t in rng.choice(pool, args.seeds, replace=False)], "limit": 10}
            for _ in range(args.requests)
        ]

        def call(body: dict[str, Any]) -> None:
            client.post("/recommendations", json=body).raise_for_status()

        for body in bodies[:20]:
            call(body)
        rows = [Row("POST /recommendations, 1 client", *timed(call, bodies)[:2])]
        for clients in args.concurrency:
            ms, qps, _ = timed(call, bodies, clients)
            rows.append(Row(f"POST /recommendations, {clients} clients", ms, qps))
        current, peak = rss_mb(proc.pid)
        # File-backed pages (mapped vector files) are clean and reclaimable; anonymous ones
        # (models, quantized vectors, graphs) are what the process really needs.
        anon, mapped = proc_status_mb(proc.pid, "RssAnon", "RssFile")
        print(f"API RSS by mapping (MiB), after start-up: {idle_mappings}")
        print(f"API RSS by mapping (MiB), after the requests: {rss_by_mapping(proc.pid)}")
        limited = limit.stats() if limit else {}
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        log.close()
        if limit:
            limit.remove()
    return rows, {
        **limited,
        "api_rss_idle_mb": idle,
        "api_rss_mb": current,
        "api_peak_rss_mb": peak,
        "api_rss_anon_mb": anon,
        "api_rss_file_mb": mapped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/musicrec-bench"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[160_000])
    parser.add_argument("--m", type=int, default=DEFAULTS.hnsw_m)
    parser.add_argument("--ef-construct", type=int, default=DEFAULTS.hnsw_ef_construct)
    parser.add_argument(
        "--ef",
        type=int,
        nargs="+",
        default=[DEFAULTS.hnsw_ef],
        help="hnsw_ef values to measure; the API runs with the first",
    )
    parser.add_argument("--quantization", choices=["none", "int8"], default=DEFAULTS.quantization)
    parser.add_argument("--exact-search-below", type=int, default=DEFAULTS.exact_search_below)
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.index_batch_size)
    parser.add_argument("--real-lyrics", type=int, default=400)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[2, 4],
        help="concurrent clients for the HTTP rows (one row each; the engine rows use the last)",
    )
    parser.add_argument("--seeds", type=int, default=1, help="positive seeds per query")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-numpy", action="store_true", help="no brute-force floor")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--skip-engine",
        action="store_true",
        help="HTTP rows only (the engine rows and ground truth take minutes at 1M)",
    )
    parser.add_argument(
        "--memory-limit-mb",
        type=int,
        default=0,
        help="serve under this hard memory limit (a cgroup; needs root)",
    )
    parser.add_argument(
        "--build-only",
        action="store_true",
        help="build and cache the collections, measure nothing (measure later on a quiet machine)",
    )
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    real = real_corpus(args.workdir, args.real_lyrics)
    for size in args.sizes:
        tag = f"g2-n{size}-m{args.m}-efc{args.ef_construct}-{args.quantization}"
        directory = args.workdir / tag
        stats = build(directory, size, real, args)
        if args.build_only:
            print(f"built {tag}: {json.dumps(stats)}")
            continue
        started_load = load_text()
        rows = [] if args.skip_engine else engine_rows(directory, size, real, args)
        memory: dict[str, float] = {}
        if not args.skip_http:
            more, memory = http_rows(directory, size, real, args)
            rows += more
        result = {
            "size": size,
            "tag": tag,
            "build": stats,
            "memory": memory,
            "load": [started_load, load_text()],
            "cores": os.cpu_count(),
        }
        print(
            f"\n### {size:,} tracks ({tag}); {args.queries} queries, {args.seeds} seed(s); "
            f"cores {os.cpu_count()}; {started_load} at start, {load_text()} at end"
        )
        print(f"build: {json.dumps(stats)}")
        if memory:
            print("API RSS: " + ", ".join(f"{k} {v:.0f}" for k, v in memory.items()))
        print(
            "| query | p50 ms | p95 ms | p99 ms | /s serial | /s concurrent | recall@10 | notes |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for row in rows:
            print(row.markdown())
        result["rows"] = [
            {
                "what": r.what,
                "p50": statistics.median(r.ms),
                "qps": r.qps,
                "qps_concurrent": r.qps_concurrent,
                "recall": r.recall,
                "detail": r.detail,
                "p99": statistics.quantiles(r.ms, n=100, method="inclusive")[98],
            }
            for r in rows
        ]
        (directory / f"result-{int(time.time())}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
