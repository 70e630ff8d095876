"""The collaborative side of the API: the current LightFM model and each user's recent tracks.

The model is swapped, never mutated: a newer artefact (published atomically by
`musicrec train`) is loaded beside the old one and replaces it in one assignment, so requests
in flight finish on the model they started with, and a broken artefact leaves the old one
serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from indexer.collaborative import LATEST, CollaborativeModel, ModelArtefactError, load_latest
from indexer.interactions import (
    Interaction,
    InteractionsError,
    append_interactions,
    read_interactions,
)

log = logging.getLogger(__name__)

RECENT_PER_USER = 50


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

    def _read_pointer(self) -> str | None:
        try:
            return (self.model_dir / LATEST).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def reload(self) -> bool:
        """Load the artefact `latest` names if it is not the one serving; True if swapped."""
        with self._lock:
            self._checked = time.monotonic()
            pointer = self._read_pointer()
            if pointer is None or pointer == self._pointer:
                return False
            try:
                model = load_latest(self.model_dir)
            except (ModelArtefactError, OSError, ValueError) as exc:
                self.error = f"cannot load {pointer}: {exc}"
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


class UserHistory:
    """Recent tracks per user from the events the API recorded, persisted before acknowledged.

    These seed a user's recommendations even before the next training run knows the user.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._recent: dict[str, deque[str]] = {}
        self._lock = threading.Lock()
        if path.exists():
            try:
                frame = read_interactions(path)
            except InteractionsError as exc:
                raise RuntimeError(
                    f"recorded interactions at {path} are unreadable: {exc}"
                ) from exc
            if "timestamp" in frame:
                frame = frame.sort_values("timestamp", kind="stable")
            for user, track in zip(frame["user_id"], frame["track_id"], strict=True):
                self._remember(str(user), str(track))

    def _remember(self, user_id: str, track_id: str) -> None:
        recent = self._recent.setdefault(user_id, deque(maxlen=RECENT_PER_USER))
        if track_id in recent:
            recent.remove(track_id)
        recent.append(track_id)

    def record(self, events: Iterable[Interaction]) -> int:
        batch = list(events)
        with self._lock:
            written = append_interactions(self.path, batch)
            for event in batch:
                self._remember(event.user_id, event.track_id)
        return written

    def recent(self, user_id: str) -> list[str]:
        """Newest first."""
        return list(reversed(self._recent.get(user_id, ())))

    def users(self) -> dict[str, int]:
        """Recorded users with their distinct recent tracks (capped): pickers list them even
        before a training run knows them."""
        with self._lock:
            return {user: len(tracks) for user, tracks in self._recent.items()}
