"""How a server collection is spread over a Qdrant cluster, and how reads and writes use it.

Sharding and replication are Qdrant's own (distributed mode); musicrec only chooses the
numbers at creation, records them in the collection metadata (so `musicrec collections info`
and the console show what a collection was built with), and passes the write ordering and
read consistency the user chose with every call. Qdrant Edge is one local shard: it ignores
all of this (core/store/factory.py logs that once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from qdrant_client import models

WriteOrdering = Literal["weak", "medium", "strong"]
ReadConsistency = int | Literal["majority", "quorum", "all"]

#: The collection metadata key the cluster settings are recorded under.
CLUSTER_KEY = "cluster"


@dataclass(frozen=True)
class ClusterConfig:
    shard_number: int = 1
    replication_factor: int = 1
    write_consistency_factor: int = 1
    write_ordering: WriteOrdering = "weak"
    read_consistency: ReadConsistency = 1

    def creation_args(self) -> dict[str, Any]:
        """The keyword arguments of `create_collection` that fix the collection's topology."""
        return {
            "shard_number": self.shard_number,
            "replication_factor": self.replication_factor,
            "write_consistency_factor": self.write_consistency_factor,
        }

    def metadata(self) -> dict[str, Any]:
        """What is recorded with the collection: its topology as created."""
        return {CLUSTER_KEY: self.creation_args()}

    def ordering(self) -> models.WriteOrdering:
        return models.WriteOrdering(self.write_ordering)

    def consistency(self) -> int | models.ReadConsistencyType:
        if isinstance(self.read_consistency, int):
            return self.read_consistency
        return models.ReadConsistencyType(self.read_consistency)

    def is_default(self) -> bool:
        return self == ClusterConfig()

    @classmethod
    def from_settings(cls, settings: Any) -> ClusterConfig:
        """From `schemas.settings.Settings` (typed Any: core/store reads no settings itself)."""
        return cls(**{k: getattr(settings, k) for k in asdict(cls())})
