"""Which personalised responses are logged for online evaluation (the `served` tables).

Recommendations are public, and logging used to follow any `user_id`: 200 anonymous requests
for invented ids added 200 served lists and 200 "users" to /stats, diluting its hit rate. The
rule: a served list is logged only for a user who exists — with a history in the database or
known to a served model (LightFM or the ranker's interaction matrix) — and at most
MUSICREC_RATE_LIMIT_SERVED_LOG lists per client address; anything else is answered the same,
without a `request_id`. Kept apart from the logging itself (`core.interactions.online`) so
the rule and what is logged change independently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from core.interactions.database import DatabaseUnavailableError

if TYPE_CHECKING:
    from api.resources import Resources

SERVED_LOG = "served log"  # the budget's name in `Resources.rate_limits`


def known_user(resources: Resources, user_id: str) -> bool:
    """A user with recorded interactions, or one a served model was trained on."""
    model = resources.collab.current()
    if model is not None and model.has_user(user_id):
        return True
    ranker = resources.ranker.current() if resources.ranker is not None else None
    if ranker is not None and ranker.index.has_user(user_id):
        return True
    try:
        return bool(resources.interactions.recent(user_id, 1))
    except DatabaseUnavailableError:
        return False  # the log could not be written either; the answer goes out unlogged


def should_log(request: Request, resources: Resources, user_id: str) -> bool:
    """Log this response's list? Charges the client's served-log budget only for known users."""
    if not known_user(resources, user_id):
        return False
    client = request.client.host if request.client else "unknown"
    return resources.rate_limits.retry_after(SERVED_LOG, client) is None
