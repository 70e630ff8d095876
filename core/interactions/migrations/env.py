"""Alembic environment: migrations run on the connection core.interactions.database hands
over (already in a transaction holding the upgrade lock); `alembic -x url=…` for developers."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from core.interactions.tables import metadata

connection = context.config.attributes.get("connection")


def run(conn) -> None:  # type: ignore[no-untyped-def]
    # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///data/musicrec.db")
    with create_engine(url).connect() as conn:
        run(conn)
        conn.commit()
