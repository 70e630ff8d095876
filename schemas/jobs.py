"""The bodies of `/jobs`: what a client may ask the API to run, and what it reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

CatalogSchema = Literal["auto", "kaggle", "tidytuesday"]


class JobRequest(BaseModel):
    kind: Literal["index", "train"]
    path: str | None = Field(
        None,
        max_length=1024,
        description="index: the catalog file, relative to MUSICREC_IMPORT_DIR (or absolute "
        "inside it). Files elsewhere are sent with POST /jobs/upload.",
    )
    catalog_schema: CatalogSchema = Field("auto", alias="schema")
    force: bool = Field(False, description="index: re-encode even unchanged tracks.")

    model_config = {"populate_by_name": True}

    @model_validator(mode="after")
    def _path_for_index(self) -> JobRequest:
        if self.kind == "index" and not self.path:
            raise ValueError("an index job needs `path` (or use POST /jobs/upload)")
        if self.kind == "train" and self.path:
            raise ValueError(
                "a train job takes no path: it trains on the collection and the database"
            )
        return self


class JobResponse(BaseModel):
    id: str
    kind: Literal["index", "train"]
    state: Literal["queued", "running", "succeeded", "failed", "cancelled", "interrupted"]
    params: dict[str, Any]
    progress: float | None = Field(description="0..1 (bytes of the catalog read; epochs).")
    counts: dict[str, Any] = Field(description="index: indexed, unchanged, rejected, points.")
    errors: list[dict[str, Any]] = Field(
        description="The first problems: rejected rows with their line, failed covers."
    )
    versions: dict[str, str] = Field(description="Artefacts a train job published.")
    message: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @field_validator("created_at", "started_at", "finished_at")
    @classmethod
    def _utc(cls, when: datetime | None) -> datetime | None:
        """The database stores naive UTC; the answer says so (an RFC 3339 date-time needs
        an offset)."""
        return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


class JobList(BaseModel):
    jobs: list[JobResponse]
