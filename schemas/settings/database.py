"""The interactions database (SQLAlchemy + Alembic) and online evaluation."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from schemas.settings.section import Section


class DatabaseSettings(Section):
    database_url: str | None = Field(
        None,
        description="Interactions, listeners and served recommendations; default "
        "sqlite:///<data_dir>/musicrec.db (embedded, WAL). postgresql+psycopg://user:pw@host/db "
        "for several API processes or machines sharing one database.",
    )
    database_busy_timeout: float = Field(
        10.0, gt=0, le=300, description="Seconds a SQLite writer waits for the lock (then 503)."
    )
    database_connect_timeout: float = Field(
        5.0, gt=0, le=120, description="Seconds to reach a PostgreSQL server (then 503)."
    )
    hit_window_days: float = Field(
        7.0,
        gt=0,
        le=365,
        description="Online evaluation: an interaction with a served track within this many "
        "days of serving counts as a hit.",
    )
    interactions_path: Path | None = Field(
        None,
        description="Legacy CSV of events recorded before the database existed; default "
        "<data_dir>/interactions.csv. Imported once into the database by `musicrec db upgrade`.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("sqlite:///", "postgresql")):
            raise ValueError("expected sqlite:///PATH or postgresql+psycopg://user@host/db")
        return url
