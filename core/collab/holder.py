"""The LightFM model the API serves, swapped (never mutated) when a newer artefact appears.

A newer artefact (published atomically by `musicrec train`) is loaded beside the old one and
replaces it in one assignment, so requests in flight finish on the model they started with,
and a broken artefact leaves the old one serving.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from core.collab.artefact import ModelArtefactError, latest_name, load
from core.collab.model import CollaborativeModel

log = logging.getLogger(__name__)


class ModelHolder:
    def __init__(self, model_dir: Path, reload_seconds: float = 10.0) -> None:
        self.model_dir = model_dir
        self.reload_seconds = reload_seconds
        self.model: CollaborativeModel | None = None
        self.error: str | None = None
        self._pointer: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> bool:
        """Load the artefact `latest` names if it is not the one serving; True if swapped."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                pointer = latest_name(self.model_dir)
                if pointer is None or pointer == self._pointer:
                    return False
                model = load(self.model_dir / pointer)
            except (ModelArtefactError, OSError) as exc:
                self.error = str(exc)
                log.error("collaborative model not reloaded, the old one keeps serving: %s", exc)
                return False
            self.model, self._pointer, self.error = model, pointer, None
            log.info("collaborative model %s loaded", pointer)
            return True

    def current(self) -> CollaborativeModel | None:
        if time.monotonic() - self._checked >= self.reload_seconds:
            self.reload()
        return self.model

    @property
    def version(self) -> str | None:
        return self._pointer
