"""Alembic migrations of the interaction database (run by `musicrec db upgrade`)."""
