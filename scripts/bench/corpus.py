"""The benchmark's vectors: real ones (TidyTuesday audio, Billboard lyrics, Discogs covers
through the product's encoders) plus synthetic ones drawn from mixtures fitted on them."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from bench import DEFAULTS, SHARED
from core.encoders.audio import AudioEncoder, AudioScaler
from core.encoders.cover import CnnCoverEncoder, load_image
from core.encoders.lyrics import LyricsEncoder
from core.encoders.lyrics_terms import LyricsTermsEncoder
from indexer.catalog import read_catalog
from schemas.layout import COVER, DENSE_MODALITIES, build_layout
from schemas.vectors import SparseVector


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
