"""How a personalised pool's per-modality cosines are best computed: three ways, one run.

    python scripts/bench_pool_scores.py --data-dir /work/bench/g2-n160000-m16-efc100-none \
        --collection bench --pool 600 --pools 100

Each of `--pools` seeded draws of `--pool` stored tracks is scored against a query made of
one stored track's vectors (the dense modalities; the sparse terms are small and always
come with the points, see core/recommend/signals.py):

* **vectors through Python** (what served before): `retrieve(..., with_vectors=True)`, then
  numpy cosines over the dense vectors;
* **engine, by id** (what serves): `VectorStore.score_points` once per dense modality, an
  exact query restricted to the pool's ids returning scores only;
* **in-process float16 matrix**: every stored dense vector kept in RAM as float16 (built by
  one scroll), a pool scored by a row gather and a matrix product.

It prints ms per pool (p50, p95) for each, the matrix's build time and its RAM at this size
and extrapolated to 1M tracks, and the largest difference from the float64 cosines (float16
rounds them). Nothing is written: the numbers go to docs/performance.md with the command.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from bench.machine import load_text

from core.store import VectorStore, open_store
from schemas.settings import Settings
from schemas.vectors import SparseVector


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def python_cosines(store: VectorStore, queries: dict[str, np.ndarray], ids: list[str]) -> None:
    records = store.retrieve(ids, with_vectors=True)
    for name, q in queries.items():
        rows = [r.vectors[name] for r in records if name in r.vectors]
        if rows:
            _ = unit_rows(np.asarray(rows, dtype=np.float64)) @ q


def engine_cosines(store: VectorStore, queries: dict[str, np.ndarray], ids: list[str]) -> None:
    for name, q in queries.items():
        store.score_points(name, q.tolist(), ids)


class Float16Matrix:
    """Every stored dense vector, unit-normalised, as float16 rows; `row` maps point ids."""

    def __init__(self, store: VectorStore, names: list[str]) -> None:
        chunks: dict[str, list[np.ndarray]] = {n: [] for n in names}
        present: dict[str, list[np.ndarray]] = {n: [] for n in names}
        ids: list[str] = []
        dims: dict[str, int] = {}
        for batch in store.scroll(batch_size=2048, with_vectors=names):
            ids.extend(r.id for r in batch)
            for n in names:
                have = np.array([n in r.vectors for r in batch])
                if have.any():
                    dims.setdefault(n, len(next(r.vectors[n] for r in batch if n in r.vectors)))
                block = np.zeros((len(batch), dims.get(n, 1)), np.float16)
                for i, r in enumerate(batch):
                    if n in r.vectors:
                        block[i] = np.asarray(r.vectors[n], np.float32)
                chunks[n].append(block)
                present[n].append(have)
        self.row = {pid: i for i, pid in enumerate(ids)}
        self.matrix = {n: np.concatenate(chunks[n]) for n in names}
        self.present = {n: np.concatenate(present[n]) for n in names}

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.matrix.values())

    def cosines(self, queries: dict[str, np.ndarray], ids: list[str]) -> dict[str, np.ndarray]:
        rows = np.fromiter((self.row[i] for i in ids), np.int64, len(ids))
        return {
            n: (self.matrix[n][rows].astype(np.float32) @ q.astype(np.float32))
            for n, q in queries.items()
        }


def timed(fn, pools: list[list[str]], queries: list[dict[str, np.ndarray]]) -> list[float]:
    out = []
    for ids, q in zip(pools, queries, strict=True):
        started = time.perf_counter()
        fn(q, ids)
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(ms: list[float]) -> str:
    return f"p50 {np.percentile(ms, 50):7.2f} ms  p95 {np.percentile(ms, 95):7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--collection", default="tracks")
    parser.add_argument("--pool", type=int, default=600)
    parser.add_argument("--pools", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = Settings(data_dir=args.data_dir, collection=args.collection)  # type: ignore[call-arg]
    store = open_store(settings)
    layout = store.layout()
    if layout is None:
        raise SystemExit(f"no collection '{args.collection}' under {args.data_dir}")
    names = list(layout.vectors)
    print(f"{store.count()} tracks, dense modalities {names}; {load_text()}")
    started = time.perf_counter()
    matrix = Float16Matrix(store, names)
    build_s = time.perf_counter() - started
    n = len(matrix.row)
    ids = list(matrix.row)
    rng = np.random.default_rng(args.seed)
    pools = [[ids[i] for i in rng.choice(n, args.pool, replace=False)] for _ in range(args.pools)]
    queries = []
    for pool in pools:
        [seed] = store.retrieve([pool[0]], with_vectors=True)
        queries.append(
            {
                k: np.asarray(v, np.float64) / max(float(np.linalg.norm(v)), 1e-12)
                for k, v in seed.vectors.items()
                if k in names and not isinstance(v, SparseVector)
            }
        )
    # Agreement of the float16 cosines with the engine's (float32 storage).
    worst = 0.0
    for pool, q in list(zip(pools, queries, strict=True))[:10]:
        approx = matrix.cosines(q, pool)
        for name, vector in q.items():
            exact = store.score_points(name, vector.tolist(), pool)
            for j, pid in enumerate(pool):
                if pid in exact:
                    worst = max(worst, abs(float(approx[name][j]) - exact[pid]))
    for label, fn in (
        ("vectors through Python", lambda q, p: python_cosines(store, q, p)),
        ("engine, by id", lambda q, p: engine_cosines(store, q, p)),
        ("float16 matrix", lambda q, p: matrix.cosines(q, p)),
    ):
        timed(fn, pools[:5], queries[:5])  # warm-up
        print(f"{label:24s} {summary(timed(fn, pools, queries))}")
    per_track = matrix.nbytes / max(n, 1)
    print(
        f"float16 matrix: built in {build_s:.1f} s, {matrix.nbytes / 2**20:.0f} MiB at {n} "
        f"tracks, {per_track * 1e6 / 2**30:.2f} GiB at 1M; largest |float16 - engine| cosine "
        f"{worst:.4f}; {load_text()}"
    )
    store.close()


if __name__ == "__main__":
    main()
