"""The interaction-store contract on SQLite (embedded) and on a real PostgreSQL server, plus
what only one of them can show: SQLite's WAL mode and a full disk, PostgreSQL unreachable."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from core.interactions.database import DatabaseUnavailableError
from core.interactions.store import Interaction, SqlInteractionStore
from tests.core.interactions.contract import InteractionStoreContract


class TestSqlite(InteractionStoreContract):
    @pytest.fixture
    def url(self, tmp_path):
        return f"sqlite:///{tmp_path}/musicrec.db"

    def test_wal_mode_and_durable_commits(self, store) -> None:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL

    def test_a_full_disk_is_unavailable_and_writes_nothing(self, store) -> None:
        store.record([Interaction("u", "a")])
        pages = store.engine.connect()
        used = pages.execute(text("PRAGMA page_count")).scalar()
        pages.close()
        store.engine.dispose()

        @event.listens_for(store.engine, "connect")
        def _small_disk(dbapi_connection, _record) -> None:  # SQLite's own "disk full" error
            dbapi_connection.execute(f"PRAGMA max_page_count={used}")

        big = [Interaction("u", f"track-{i}" * 8) for i in range(2000)]
        with pytest.raises(DatabaseUnavailableError, match="full"):
            store.record(big)
        assert store.count_events() == 1


class TestPostgres(InteractionStoreContract):
    @pytest.fixture
    def url(self, postgres_cluster):
        return postgres_cluster.new_database()

    def test_an_unreachable_server_is_unavailable(self, postgres_cluster) -> None:
        url = postgres_cluster.url().replace(str(postgres_cluster.port), "1")
        with pytest.raises(DatabaseUnavailableError):
            SqlInteractionStore.open(url, connect_timeout=2)
