"""Each user's recent tracks from the events the API recorded, persisted before acknowledged.

These seed a user's recommendations even before the next training run knows the user.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from pathlib import Path

from core.interactions.files import (
    Interaction,
    InteractionsError,
    append_interactions,
    read_interactions,
)

RECENT_PER_USER = 50


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
