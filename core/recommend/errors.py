"""What a recommendation or search request can get wrong; routes map each to an HTTP status."""

from __future__ import annotations

from collections.abc import Sequence


class UnknownTracksError(LookupError):
    def __init__(self, track_ids: Sequence[str]) -> None:
        super().__init__(f"unknown track ids: {', '.join(track_ids)}")
        self.track_ids = list(track_ids)


class UnknownUserError(LookupError):
    """A user with no recorded interactions and unknown to the model: nothing to seed from."""


class UnsupportedQueryError(ValueError):
    """A query this collection or encoder cannot answer (HTTP 400/422, not a server fault)."""
