"""Where the vectors live: the embedded Qdrant Edge shard or a Qdrant server (cluster), the
collection, and how it is indexed. ``QDRANT_URL`` / ``QDRANT_API_KEY`` are also accepted
unprefixed because that is how Qdrant's own tools and docker-compose name them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator

from schemas.settings.section import Section


class StoreSettings(Section):
    qdrant_path: Path | None = Field(
        None, description="Embedded Qdrant Edge shard directory; default <data_dir>/qdrant."
    )
    qdrant_url: str | None = Field(
        None,
        validation_alias=AliasChoices("MUSICREC_QDRANT_URL", "QDRANT_URL", "qdrant_url"),
        description="Qdrant server URL; when set, qdrant-client is used instead of Qdrant Edge. "
        "':memory:' selects qdrant-client's in-process local mode (tests only: it is slow).",
    )
    qdrant_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices(
            "MUSICREC_QDRANT_API_KEY", "QDRANT_API_KEY", "qdrant_api_key"
        ),
    )
    snapshot_dir: Path | None = Field(
        None,
        description="Where `POST /collections/{name}/snapshot` writes an embedded collection's "
        ".tar.gz; default <data_dir>/snapshots.",
    )
    qdrant_timeout: float = Field(5.0, gt=0, le=600, description="Seconds per server request.")
    collection: str = Field("tracks", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    hnsw_m: int = Field(16, ge=4, le=128)
    hnsw_ef_construct: int = Field(100, ge=4, le=2000)
    hnsw_ef: int = Field(128, ge=1, le=4096)
    quantization: Literal["none", "int8"] = Field(
        "none",
        description="Scalar int8 quantization of the dense vectors, fixed when a collection is "
        "created: a 4x smaller in-RAM copy is searched, the best candidates rescored with the "
        "originals (which may then stay on disk).",
    )
    quantization_oversampling: float = Field(
        2.0, ge=1, le=16, description="int8 candidates rescored per result wanted."
    )
    exact_search_below: int = Field(
        20_000,
        ge=0,
        description="Collections with fewer points are searched exactly (no HNSW graph build).",
    )
    preload_store_mb: int | None = Field(
        None,
        ge=0,
        description="The API reads the embedded shard's files into the page cache at start-up, "
        "in the background, when they take at most this many MiB (the first queries then do "
        "not wait on the disk); unset: half the memory available at start-up; 0: never.",
    )
    shard_number: int = Field(
        1,
        ge=1,
        le=1024,
        description="Shards of a new server collection, fixed at creation: at least one per "
        "node so every node searches its part (docs/scaling.md). Ignored by Qdrant Edge.",
    )
    replication_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Copies of each shard on different nodes, fixed at creation; 2 or more "
        "keeps reads answering while a node is down. Ignored by Qdrant Edge.",
    )
    write_consistency_factor: int = Field(
        1,
        ge=1,
        le=16,
        description="Replicas that must acknowledge a write before it returns (at most "
        "MUSICREC_REPLICATION_FACTOR). Ignored by Qdrant Edge.",
    )
    write_ordering: Literal["weak", "medium", "strong"] = Field(
        "weak",
        description="Qdrant write ordering: weak (fastest; writes may be reordered), medium "
        "(through a dynamically chosen leader), strong (through the permanent leader: "
        "consistent, unavailable while that leader is down).",
    )
    read_consistency: int | Literal["majority", "quorum", "all"] = Field(
        1,
        description="Replicas a read asks: 1 (default) is answered by any live replica, so a "
        "node down costs nothing; majority/quorum/all trade that for agreement between "
        "replicas (a read then fails with 503 when too few replicas answer).",
    )

    @model_validator(mode="after")
    def _check_cluster(self) -> StoreSettings:
        if self.write_consistency_factor > self.replication_factor:
            raise ValueError(
                f"MUSICREC_WRITE_CONSISTENCY_FACTOR ({self.write_consistency_factor}) cannot "
                f"exceed MUSICREC_REPLICATION_FACTOR ({self.replication_factor}): a write "
                "would wait for replicas that do not exist"
            )
        if isinstance(self.read_consistency, int) and self.read_consistency < 1:
            raise ValueError("MUSICREC_READ_CONSISTENCY must be >= 1 or majority/quorum/all")
        return self

    @property
    def engine(self) -> Literal["edge", "server", "memory"]:
        if self.qdrant_url is None:
            return "edge"
        return "memory" if self.qdrant_url == ":memory:" else "server"
