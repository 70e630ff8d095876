"""The collection layout: one source of truth for vector names, sizes, distances and indexes.

The indexer creates collections from it, both store adapters translate it for their engine,
and the API checks the stored layout against its configured encoders before serving.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

LYRICS = "lyrics"
COVER = "cover"
AUDIO = "audio"
MODALITIES: tuple[str, ...] = (LYRICS, COVER, AUDIO)

# Order matters: it is the order of the components of the `audio` vector.
AUDIO_NUMERIC_FEATURES: tuple[str, ...] = (
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
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


class CollectionLayout(BaseModel):
    vectors: dict[str, VectorSpec]
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


def build_layout(encoders: dict[str, tuple[int, str]]) -> CollectionLayout:
    """Layout for the given ``{vector name: (dimension, encoder id)}``."""
    return CollectionLayout(
        vectors={
            name: VectorSpec(size=dim, distance="cosine", encoder=encoder_id)
            for name, (dim, encoder_id) in encoders.items()
        },
        payload_indexes=dict(PAYLOAD_INDEXES),
    )


class LayoutMismatchError(RuntimeError):
    """The collection was built with other encoders/dimensions than the ones configured."""


def check_compatible(stored: CollectionLayout, wanted: CollectionLayout) -> None:
    """Refuse to mix vectors from different encoders in one collection."""
    problems = []
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
