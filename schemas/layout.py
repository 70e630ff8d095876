"""The collection layout: one source of truth for vector names, sizes, distances and indexes.

The indexer creates collections from it, both store adapters translate it for their engine,
and the API checks the stored layout against its configured encoders before serving.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, Field

from schemas.tracks import KAGGLE_AUDIO_COLUMNS

#: The one list of modalities: the API's weights, the settings' default weights and the
#: collection's vector names all take their keys from here.
Modality = Literal["lyrics", "lyrics_terms", "cover", "audio"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)
LYRICS: Modality = "lyrics"
LYRICS_TERMS: Modality = "lyrics_terms"  # sparse BM25 term weights of the lyrics
COVER: Modality = "cover"
AUDIO: Modality = "audio"
DENSE_MODALITIES: tuple[Modality, ...] = (LYRICS, COVER, AUDIO)

# Order matters: it is the order of the components of the `audio` vector, fixed by the scalers
# stored with every collection. It is the catalog's column order with `key` set apart (below)
# and `mode` last.
AUDIO_NUMERIC_FEATURES: tuple[str, ...] = (
    *(c for c in KAGGLE_AUDIO_COLUMNS if c not in ("key", "mode")),
    "mode",
)
# `key` is a pitch class (0..11): it is placed on a circle (sin, cos) so that B and C are
# neighbours, instead of being standardized as if 11 were far from 0.
AUDIO_CATALOG_FEATURES: tuple[str, ...] = (*AUDIO_NUMERIC_FEATURES, "key")
AUDIO_DIM = len(AUDIO_NUMERIC_FEATURES) + 2

Distance = Literal["cosine", "dot", "euclid"]
PayloadType = Literal["keyword", "integer", "float", "bool"]


class VectorSpec(BaseModel):
    size: int = Field(gt=0)
    distance: Distance = "cosine"
    encoder: str = Field(description="Which encoder produced these vectors (refuse a mix).")


class SparseSpec(BaseModel):
    """A sparse vector whose IDF the engine computes over the collection (Qdrant's modifier)."""

    modifier: Literal["idf", "none"] = "idf"
    encoder: str


class CollectionLayout(BaseModel):
    vectors: dict[str, VectorSpec]
    sparse_vectors: dict[str, SparseSpec] = Field(default_factory=dict)
    payload_indexes: dict[str, PayloadType]


# Fields the API filters on; each gets a payload index so filtered search stays fast.
# `explicit` is stored as 0/1, not a JSON bool: Qdrant Edge 0.9.0 never matches a bool
# MatchValue (tests/test_store_contract.py guards the workaround on both engines).
PAYLOAD_INDEXES: dict[str, PayloadType] = {
    "track_id": "keyword",
    "genre": "keyword",
    "artists": "keyword",
    "year": "integer",
    "explicit": "integer",
    "popularity": "integer",
}


def build_layout(
    encoders: dict[str, tuple[int, str]], sparse: dict[str, str] | None = None
) -> CollectionLayout:
    """Layout for dense ``{name: (dimension, encoder id)}`` and sparse ``{name: encoder id}``."""
    return CollectionLayout(
        vectors={
            name: VectorSpec(size=dim, distance="cosine", encoder=encoder_id)
            for name, (dim, encoder_id) in encoders.items()
        },
        sparse_vectors={name: SparseSpec(encoder=eid) for name, eid in (sparse or {}).items()},
        payload_indexes=dict(PAYLOAD_INDEXES),
    )


class LayoutMismatchError(RuntimeError):
    """The collection was built with other encoders/dimensions than the ones configured."""


def check_compatible(stored: CollectionLayout, wanted: CollectionLayout) -> None:
    """Refuse to mix vectors from different encoders in one collection."""
    problems = []
    for name, sparse in wanted.sparse_vectors.items():
        had = stored.sparse_vectors.get(name)
        if had is None:
            problems.append(f"sparse vector '{name}' is not in the collection")
        elif had != sparse:
            problems.append(
                f"sparse vector '{name}' was built by {had.encoder}, not {sparse.encoder}"
            )
    for name, spec in wanted.vectors.items():
        have = stored.vectors.get(name)
        if have is None:
            problems.append(f"vector '{name}' is not in the collection")
        elif (have.size, have.encoder) != (spec.size, spec.encoder):
            problems.append(
                f"vector '{name}' was built by {have.encoder} ({have.size}-d), "
                f"configured encoder is {spec.encoder} ({spec.size}-d)"
            )
    if problems:
        raise LayoutMismatchError(
            "collection layout does not match the configured encoders: "
            + "; ".join(problems)
            + ". Re-index into a new collection (MUSICREC_COLLECTION) or restore the old settings."
        )
