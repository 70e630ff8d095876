"""What the recommender returns: domain results, free of HTTP (routes map them to DTOs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.tracks import Track

PersonalizationStatus = Literal["applied", "unknown-user", "no-model", "not-requested", "off"]
RankerKind = Literal["learned", "linear-blend"]


@dataclass
class RankedTrack:
    """One result with everything that explains its place.

    `score` orders the results: the engine's fused score (RRF/DBSF) for seed-only queries,
    the ranker's score for personalised ones. `similarities` holds the cosine to the query
    in every modality used (None where the track has no vector for it).
    """

    track: Track
    score: float
    similarities: dict[str, float | None]
    has_lyrics: bool = False  # the payload says so; the text itself is never stored
    sources: list[str] = field(default_factory=list)
    content_score: float | None = None
    collaborative_score: float | None = None
    blended_score: float | None = None
    # Learned ranker only: signal group → TreeSHAP contribution, plus "base"; they sum to score.
    explanation: dict[str, float] | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], **fields: Any) -> RankedTrack:
        return cls(
            track=Track.from_payload(dict(payload)),
            has_lyrics=bool(payload.get("has_lyrics")),
            **fields,
        )


@dataclass(frozen=True)
class Personalization:
    user_id: str | None = None
    status: PersonalizationStatus = "not-requested"
    collab_weight: float | None = 0.0  # None: the learned ranker weighs the signals itself
    model_version: str | None = None
    ranker: RankerKind = "linear-blend"
    ranker_version: str | None = None

    @property
    def explains(self) -> bool:
        """True for the learned ranker, whose tracks carry explanations (those it was asked
        to explain); the linear blend explains none."""
        return self.ranker == "learned"


@dataclass
class Recommendation:
    items: list[RankedTrack]
    fusion: str
    modalities: list[str]
    weights: dict[str, float]
    personalization: Personalization = field(default_factory=Personalization)


@dataclass
class SearchResult:
    query: str
    modality: str
    items: list[RankedTrack]
