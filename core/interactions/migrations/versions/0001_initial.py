"""Interactions, served recommendations, imported files.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "interactions",
        sa.Column("id", _ROW_ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("track_id", sa.String(128), nullable=False),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_time", sa.DateTime, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_interactions"),
        sa.UniqueConstraint("user_id", "event_id", name="uq_interactions_user_id_event_id"),
    )
    op.create_index("ix_interactions_user_id_event_time", "interactions", ["user_id", "event_time"])
    op.create_table(
        "served",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("ranker_version", sa.String(128), nullable=True),
        sa.Column("served_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_served"),
    )
    op.create_index("ix_served_served_at", "served", ["served_at"])
    op.create_index("ix_served_user_id_served_at", "served", ["user_id", "served_at"])
    op.create_table(
        "served_items",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("track_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "rank", name="pk_served_items"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["served.request_id"],
            name="fk_served_items_request_id_served",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "imported_files",
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("accepted", sa.BigInteger, nullable=False),
        sa.Column("imported_at", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_imported_files"),
    )


def downgrade() -> None:
    op.drop_table("imported_files")
    op.drop_table("served_items")
    op.drop_index("ix_served_user_id_served_at", table_name="served")
    op.drop_index("ix_served_served_at", table_name="served")
    op.drop_table("served")
    op.drop_index("ix_interactions_user_id_event_time", table_name="interactions")
    op.drop_table("interactions")
