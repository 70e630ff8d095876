"""Cover genre retrieval on the 500 real Discogs covers: each cover queries its k nearest other
covers by cosine of the product's cover encoder; P@k = share with the query's genre. The
covers are linked to no track, so this measures the encoder, not recommendations."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

import numpy as np

from evaluation.config import Params
from evaluation.datasets import load_covers
from evaluation.methods.base import top_k
from evaluation.metrics import ranking_metrics
from evaluation.results import Row, Section, progress


def genre_precision(embeddings: np.ndarray, genres: Sequence[str], k: int) -> np.ndarray:
    """Per-query P@k of same-genre neighbours, the query itself excluded."""
    labels = np.asarray(genres)
    sims = embeddings @ embeddings.T
    np.fill_diagonal(sims, -np.inf)
    index = np.arange(len(labels))
    pairs = (
        (top_k(sims[i], index, k), set(np.flatnonzero(labels == labels[i])) - {i})
        for i in range(len(labels))
    )
    return ranking_metrics(pairs, (k,))[f"P@{k}"]


def random_precision(genres: Sequence[str]) -> float:
    """The expected P@k of a random neighbour list: (n_genre - 1) / (n - 1) per query."""
    labels = np.asarray(genres)
    counts = {g: int((labels == g).sum()) for g in set(genres)}
    return float(np.mean([(counts[g] - 1) / (len(labels) - 1) for g in labels]))


def covers(params: Params) -> Section:
    """Genre retrieval with the product's CNN cover encoder, embeddings cached on disk."""
    from PIL import Image

    from core.encoders.cover import CnnCoverEncoder

    root = params.shared / "covers"
    files, genre_list = load_covers(root)
    if params.covers is not None:
        keep = [
            i
            for g in sorted(set(genre_list))
            for i in [j for j, x in enumerate(genre_list) if x == g][: params.covers]
        ]
        files, genre_list = [files[i] for i in keep], [genre_list[i] for i in keep]
    encoder = CnnCoverEncoder(batch_size=16)
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:12]
    cache = params.cache / f"covers-{encoder.encoder_id.replace('/', '_')}-{digest}.npy"
    if cache.exists():
        embeddings = np.load(cache)
    else:
        started = time.perf_counter()
        vectors = encoder.encode([Image.open(root / f).convert("RGB") for f in files])
        embeddings = np.stack([v for v in vectors if v is not None])
        if len(embeddings) != len(files):
            raise SystemExit(f"cover encoder declined {len(files) - len(embeddings)} covers")
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embeddings)
        progress(f"covers: {len(files)} embedded in {time.perf_counter() - started:.0f} s")
    genres = np.array(genre_list)
    per_query = genre_precision(embeddings, genre_list, 10)
    section = Section()
    section.facts.update(covers=len(files), encoder=encoder.encoder_id, dim=encoder.dim)
    section.facts["random"] = random_precision(genre_list)
    section.rows.append(Row("all covers", {"P@10": per_query}))
    for g in sorted(set(genre_list)):
        section.rows.append(Row(g, {"P@10": per_query[genres == g]}))
    return section
