"""User–track interactions in a database (SQLite embedded, PostgreSQL shared): recording
with idempotent retries, each user's recent history, served recommendations and their online
evaluation, Alembic migrations, and tolerant import of CSV/parquet logs.

Modules: tables (the schema, declared once), database (engine + migrations), store (the
InteractionStore contract and its SQLAlchemy implementation), online (served-list logging
and hit-rate stats), files (tolerant log readers), importer (logs → database), factory
(settings → store, training frame).
"""
