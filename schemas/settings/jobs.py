"""Jobs the API runs while it serves (index, train), the retraining schedule, the owner file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from schemas.settings.section import Section


class JobSettings(Section):
    import_dir: Path | None = Field(
        None,
        description="POST /jobs may index catalog files under this directory only (default "
        "<data_dir>/import); anything else is uploaded (POST /jobs/upload).",
    )
    max_import_bytes: int = Field(
        500_000_000, ge=1000, description="Largest catalog POST /jobs/upload accepts (413 above)."
    )
    job_errors_kept: int = Field(
        100, ge=1, le=10_000, description="Rejected rows a job record keeps (with line numbers)."
    )
    train_every: float | None = Field(
        None,
        gt=0,
        description="Seconds between automatic train jobs (off when unset): the API that owns "
        "the embedded shard, or `musicrec worker` with a Qdrant server, trains on this period.",
    )
    train_after_events: int | None = Field(
        None,
        ge=1,
        description="Start a train job once this many interactions arrived since the last "
        "successful one (off when unset).",
    )
    train_check_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often the schedule looks at the clock and counts."
    )
    owner_url: str | None = Field(
        None,
        description="The URL the CLI uses to reach the API that owns the embedded shard "
        "(written beside the shard at start); default http://<api_host>:<api_port>.",
    )
