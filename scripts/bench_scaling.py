"""Per-node figures for docs/scaling.md that docs/performance.md does not already measure.

    python scripts/bench_scaling.py storage --tracks 5000 25000 --quantization none int8
    python scripts/bench_scaling.py lightfm --interactions 200000 --epochs 2

`storage`: bytes a track costs per named vector, with and without int8, on disk and in the
in-RAM copy, read from the files of a real Qdrant Edge shard built through the product's
store (`EdgeStore`: product layout, 384-d lyrics, 1280-d cover, 13-d audio, BM25 terms of
real demo lyrics) and optimized (HNSW graphs built). Vector values are random (sizes do not
depend on them; graph sizes barely do).

`lightfm`: seconds per epoch per million interactions of LightFM with the product's defaults
(schemas.settings: warp, 32 components, learning rate 0.05, item alpha 1e-6, 2 threads) on
synthetic implicit interactions with a long-tailed item popularity (Zipf). Training is linear
in interactions × epochs, so the figure scales; the product's model also has metadata item
features (a few per track), which adds to it.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def storage(sizes: list[int], quantizations: list[str]) -> None:
    """Two sizes give the marginal cost of a track: Qdrant preallocates fixed blocks (WAL,
    payload and sparse storage pages), which dominate a small shard and are not per track."""
    from core.encoders.lyrics_terms import LyricsTermsEncoder
    from core.store.edge import EdgeStore
    from schemas.layout import AUDIO_DIM, build_layout

    csv.field_size_limit(10**8)
    with (ROOT / "data/demo/tracks.csv").open(newline="", encoding="utf-8") as fh:
        lyrics = [r["lyrics"] for r in csv.DictReader(fh) if r["lyrics"].strip()]
    terms = [t for t in LyricsTermsEncoder().encode(lyrics) if t]
    dims = {"lyrics": 384, "cover": 1280, "audio": AUDIO_DIM}
    layout = build_layout({n: (d, f"bench-{n}") for n, d in dims.items()}, {"lyrics_terms": "b"})
    nnz = np.mean([len(t.indices) for t in terms])
    print(f"BM25 terms of {len(terms)} real lyrics, mean nnz {nnz:.0f}")
    for quantization in quantizations:
        measured: dict[int, dict[str, int]] = {}
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                store = EdgeStore(Path(tmp), "c", quantization=quantization)
                store.create(layout, {})
                _fill(store, n, dims, terms)
                started = time.perf_counter()
                store.optimize()
                built = time.perf_counter() - started
                store.close()
                measured[n] = _sizes_by_part(Path(tmp) / "c")
            total = sum(measured[n].values())
            print(
                f"quantization {quantization}, {n} tracks: optimize {built:.1f} s, "
                f"{total / 1e6:.1f} MB on disk"
            )
        small, large = min(sizes), max(sizes)
        print(
            f"\nquantization {quantization}: bytes per track, {large} tracks "
            f"(and marginal, {small} → {large})"
        )
        for part in sorted(measured[large], key=lambda k: -measured[large][k]):
            a, b = measured[small].get(part, 0), measured[large][part]
            marginal = (b - a) / (large - small) if large > small else float("nan")
            print(f"  {part:42s} {b / large:9.1f}   ({marginal:9.1f})")


def _fill(store, n: int, dims: dict[str, int], terms: list) -> None:
    from core.store import PointRecord
    from schemas.tracks import point_id

    rng = np.random.default_rng(0)
    for start in range(0, n, 500):
        batch = []
        for i in range(start, min(start + 500, n)):
            vectors: dict = {name: rng.normal(size=d).tolist() for name, d in dims.items()}
            vectors["lyrics_terms"] = terms[i % len(terms)]
            payload = {
                "track_id": f"t{i}",
                "name": f"Track {i}",
                "genre": "pop",
                "artists": ["An Artist"],
                "year": 2000,
                "explicit": 0,
                "popularity": 50,
            }
            batch.append(PointRecord(point_id(f"t{i}"), vectors, payload))
        store.upsert(batch)


def _sizes_by_part(shard: Path) -> dict[str, int]:
    """File sizes grouped by named vector and by what the files hold (Qdrant's segment
    directories name their contents: vector_storage-<name>, vector_index-<name>)."""
    sizes: dict[str, int] = defaultdict(int)
    for path in shard.rglob("*"):
        if not path.is_file():
            continue
        rel = re.sub(r"segments/[^/]+/", "", path.relative_to(shard).as_posix())
        head, _, rest = rel.partition("/")
        if head.startswith(("vector_storage-", "vector_index-")):
            name = head.split("-", 1)[1]
            if "quantized" in rest:
                kind = "int8 copy (in RAM)"
            elif head.startswith("vector_index-"):
                kind = "HNSW graph" if "links" in rest or "graph" in rest else "index"
            elif "deleted" in rest:
                kind = "deletion bitmaps"
            else:
                kind = "vectors (float32 / sparse)"
            sizes[f"{name}: {kind}"] += path.stat().st_size
        elif head == "wal":
            sizes["WAL (preallocated, fixed size)"] += path.stat().st_size
        else:
            sizes[f"{head.split('.')[0]} (payload, ids, …)"] += path.stat().st_size
    return dict(sizes)


def lightfm(interactions: int, epochs: int) -> None:
    import scipy.sparse as sp
    from lightfm import LightFM

    from schemas.settings import Settings

    s = Settings(_env_file=None)  # type: ignore[call-arg]
    rng = np.random.default_rng(0)
    users, items = max(interactions // 20, 10), max(interactions // 6, 10)
    rows = rng.integers(0, users, interactions)
    cols = np.minimum(rng.zipf(1.3, interactions) - 1, items - 1)
    matrix = sp.coo_matrix((np.ones(interactions, np.float32), (rows, cols)), (users, items))
    matrix.sum_duplicates()
    model = LightFM(
        no_components=s.lightfm_components,
        loss=s.lightfm_loss,
        learning_rate=s.lightfm_learning_rate,
        item_alpha=s.lightfm_item_alpha,
        random_state=s.lightfm_seed,
    )
    started = time.perf_counter()
    model.fit(matrix.tocsr(), epochs=epochs, num_threads=s.lightfm_threads)
    seconds = time.perf_counter() - started
    per_m = seconds / epochs / (matrix.nnz / 1e6)
    print(
        f"{matrix.nnz} interactions ({users} users, {items} items), {epochs} epochs, "
        f"{s.lightfm_threads} threads: {seconds:.1f} s = {per_m:.1f} s per epoch per million "
        f"interactions; {s.lightfm_epochs} epochs (the default) on 1M: "
        f"{per_m * s.lightfm_epochs:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    st = sub.add_parser("storage")
    st.add_argument("--tracks", type=int, nargs="+", default=[5_000, 25_000])
    st.add_argument("--quantization", nargs="+", default=["none", "int8"])
    lf = sub.add_parser("lightfm")
    lf.add_argument("--interactions", type=int, default=200_000)
    lf.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    print(f"1-minute load at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.what == "storage":
        storage(args.tracks, args.quantization)
    else:
        lightfm(args.interactions, args.epochs)
    print(f"1-minute load at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
