"""Who can be personalised for, richest history first: the users of the served LightFM model
and those recorded in the database (`GET /users` lists them; the personal lists are computed
ahead for the first of them)."""

from __future__ import annotations

from dataclasses import dataclass

from core.collab.model import CollaborativeModel
from core.interactions.store import InteractionStore


@dataclass(frozen=True)
class Listeners:
    ranked: list[tuple[str, int]]  # (user, distinct tracks), most first, ties by id
    total: int  # distinct listeners in the database and the model


def most_active(
    model: CollaborativeModel | None, interactions: InteractionStore, limit: int
) -> Listeners:
    """The first `limit` users by distinct tracks (recorded in the database, or in the
    model's training data when that is more). Database users beyond the first `limit` are
    counted without being read."""
    counts: dict[str, int] = dict(model.interaction_counts()) if model is not None else {}
    recorded = interactions.users(limit)
    for user, n in recorded:
        counts[user] = max(counts.get(user, 0), n)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    beyond = interactions.count_users() - len(recorded) if len(recorded) == limit else 0
    return Listeners(ranked, len(counts) + beyond)
