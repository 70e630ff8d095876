"""The API's database, usable from the first second even when the server is not.

At start-up the API opens an engine (which connects lazily) and tries to bring the schema
to this code's head. When the database is unreachable then, the API starts anyway: `ready`
stays False with the `reason`, reads that need the database fall back (personalised lists
use the history the models know), writes get 503 from the store's own errors, and
`try_ready()` (called periodically by the API) finishes the start-up steps once the database
answers. A database refused for its schema version still stops the start: that does not
heal by itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from core.interactions.database import DatabaseUnavailableError, ensure_schema
from core.interactions.importer import import_legacy_csv
from core.interactions.store import SqlInteractionStore
from schemas.settings import Settings

log = logging.getLogger(__name__)


class Database:
    def __init__(self, settings: Settings, on_ready: Callable[[], object] | None = None) -> None:
        assert settings.database_url is not None
        self.settings = settings
        self.store = SqlInteractionStore.open(
            settings.database_url,
            busy_timeout=settings.database_busy_timeout,
            connect_timeout=settings.database_connect_timeout,
            migrate=False,
        )
        self.ready = False
        self.reason: str | None = None
        self._on_ready: list[Callable[[], object]] = [on_ready] if on_ready else []
        self._lock = threading.Lock()
        self.try_ready()
        if not self.ready:
            log.warning(
                "the database is unreachable at start-up (%s): serving degraded; writes get "
                "503 until it answers (checked again in the background)",
                self.reason,
            )

    def when_ready(self, callback: Callable[[], object]) -> None:
        """Run `callback` once the database is ready (now, if it is)."""
        with self._lock:
            if not self.ready:
                self._on_ready.append(callback)
                return
        callback()

    def try_ready(self) -> bool:
        """Upgrade the schema and import the legacy CSV if not done yet; True when ready."""
        with self._lock:
            if self.ready:
                return True
            try:
                ensure_schema(self.store.engine)
                import_legacy_csv(self.store, self.settings.interactions_path)
            except DatabaseUnavailableError as exc:
                self.reason = str(exc)
                return False
            self.ready, self.reason = True, None
            callbacks, self._on_ready = self._on_ready, []
        log.info("the database is ready")
        for callback in callbacks:
            callback()
        return True

    def close(self) -> None:
        self.store.close()
