"""Request and response bodies of the REST API (also the evaluation harness's vocabulary)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from schemas.layout import Modality
from schemas.tracks import Track, TrackMetadata

#: Unicode categories no id may contain: control characters (NUL, U+001C, …) break CSV
#: exports and PostgreSQL text (NUL), lone surrogates cannot be encoded as UTF-8 at all.
_UNSTORABLE = {"Cc", "Cs"}


def storable_id(value: str) -> str:
    """Refuse what a database column or a CSV export could not hold faithfully."""
    for position, char in enumerate(value):
        if unicodedata.category(char) in _UNSTORABLE:
            raise ValueError(
                f"character U+{ord(char):04X} at position {position} is not allowed in an id "
                "(control characters and lone surrogates cannot be stored)"
            )
    return value


def storable_time(value: datetime) -> datetime:
    """Refuse a time that has no UTC equivalent a database column holds: times are stored as
    naive UTC, and `0001-01-01T00:00:00+14:00` or `9999-12-31T23:59:59-14:00` fall outside
    years 1–9999 once converted (an OverflowError and a 500 on SQLite and PostgreSQL)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(
                f"{value.isoformat()} is outside the storable range once converted to UTC "
                "(0001-01-01 to 9999-12-31)"
            ) from None
    return value


_Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, strip_whitespace=True),
    AfterValidator(storable_id),
]
TrackId = _Id
UserId = _Id
EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(storable_id)
]
InteractionKind = Literal["listen", "like", "playlist_add", "skip"]
CollabWeight = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Year = Annotated[int, Field(ge=1000, le=3000)]


class Filters(BaseModel):
    genres: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    year_min: Year | None = None
    year_max: Year | None = None
    explicit: bool | None = None
    exclude_artists: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=100
    )

    @model_validator(mode="after")
    def _year_order(self) -> Filters:
        if (
            self.year_min is not None
            and self.year_max is not None
            and self.year_min > self.year_max
        ):
            raise ValueError(f"year_min ({self.year_min}) is after year_max ({self.year_max})")
        return self


class RecommendationRequest(BaseModel):
    positive: list[TrackId] = Field(min_length=1, max_length=50, description="Seed track ids.")
    negative: list[TrackId] = Field(
        default_factory=list, max_length=50, description="Tracks to steer away from."
    )
    weights: dict[Modality, Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Per-modality weight in the fusion; missing modalities weigh 1, 0 turns "
        "a modality off.",
    )
    filters: Filters = Field(default_factory=Filters)
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1000)
    user_id: UserId | None = Field(
        None,
        description="Personalise for this user: every candidate source joins and the learned "
        "ranker orders the pool (the linear blend without a ranker artefact).",
    )
    collab_weight: CollabWeight | None = Field(
        None,
        description="Ask for the linear blend at this share of the collaborative score instead "
        "of the learned ranker (unset: the ranker, or the blend at the server default).",
    )

    @model_validator(mode="after")
    def _disjoint(self) -> RecommendationRequest:
        both = sorted(set(self.positive) & set(self.negative))
        if both:
            raise ValueError(f"track ids both positive and negative: {both}")
        return self


class TrackOut(TrackMetadata):
    album_url: str | None = Field(
        None,
        description="The catalog's cover URL; for a local cover (a file the catalog names) "
        "this API's own /covers/{id} address, never the server's path.",
    )
    has_lyrics: bool = False

    @classmethod
    def from_track(cls, track: Track, has_lyrics: bool) -> TrackOut:
        fields = track.model_dump(include=set(cls.model_fields))
        if (track.album_url or "")[:5].lower() == "file:":
            # A local cover's URL names a file on the server: answer its address here instead.
            fields["album_url"] = f"/covers/{quote(track.id, safe='')}"
        return cls(**fields, has_lyrics=has_lyrics)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TrackOut:
        return cls.from_track(Track.from_payload(payload), bool(payload.get("has_lyrics")))


class RecommendationItem(BaseModel):
    track: TrackOut
    score: float = Field(
        description="What the results are ordered by: the engine's fused score (RRF or DBSF) "
        "for seed-only queries and searches, the ranker's score for personalised ones; only "
        "its order is meaningful."
    )
    similarities: dict[str, float | None] = Field(
        description="Cosine similarity to the query in each modality used; null where the "
        "track has no vector for it. Explains why the track was recommended."
    )
    content_score: float | None = Field(
        None, description="Fused score min-max normalized over the reranked candidates (0..1)."
    )
    collaborative_score: float | None = Field(
        None, description="LightFM score min-max normalized over the candidates (0..1)."
    )
    blended_score: float | None = Field(
        None, description="(1 - collab_weight) * content + collab_weight * collaborative."
    )
    sources: list[str] = Field(
        default_factory=list,
        description="The candidate sources that proposed the track (content, collaborative, "
        "cooccurrence, artist, colistened, popularity, ease, ials, rp3beta, userknn).",
    )
    explanation: dict[str, float] | None = Field(
        None,
        description="Learned ranker only: how much each signal (lyrics, lyrics_terms, cover, "
        "audio, content, collaborative, cooccurrence, artist, ease, ials, rp3beta, userknn "
        "(similar listeners), popularity, context) moved the score (TreeSHAP contributions "
        "summed per signal), plus `base`; they sum to `score`.",
    )


class Personalization(BaseModel):
    user_id: str | None = None
    status: Literal["applied", "unknown-user", "no-model", "not-requested", "off"] = Field(
        description="applied: the collaborative model scored the candidates; unknown-user: "
        "the model does not know the user (no LightFM signal); no-model: none is loaded; off: "
        "collab_weight 0 was asked, so the model was not consulted; not-requested: no user_id."
    )
    collab_weight: float | None = Field(
        0.0, description="The linear blend's LightFM share; null when the learned ranker ranked."
    )
    model_version: str | None = None
    ranker: Literal["learned", "linear-blend"] = Field(
        "linear-blend",
        description="learned: the LightGBM ranker (default when its artefact is loaded and no "
        "collab_weight is asked); linear-blend: content and LightFM mixed by collab_weight.",
    )
    ranker_version: str | None = None


class RecommendationResponse(BaseModel):
    items: list[RecommendationItem]
    fusion: str
    modalities: list[str] = Field(description="Modalities that took part in the query.")
    weights: dict[str, float]
    personalization: Personalization = Field(
        default_factory=lambda: Personalization(status="not-requested")
    )
    request_id: str | None = Field(
        None,
        description="Set on personalised responses: the id under which the served list was "
        "logged for online evaluation (GET /stats).",
    )


class InteractionEvent(BaseModel):
    user_id: UserId
    track_id: TrackId
    weight: float = Field(1.0, ge=0, le=1000, allow_inf_nan=False)
    kind: InteractionKind = "listen"
    timestamp: Annotated[datetime, AfterValidator(storable_time)] | None = Field(
        None, description="When it happened; default: now."
    )
    event_id: EventId | None = Field(
        None,
        description="Client-chosen id, unique per user: a retried request with the same ids "
        "is recorded once.",
    )


class InteractionsRequest(BaseModel):
    events: list[InteractionEvent] = Field(min_length=1, max_length=1000)


class InteractionsResponse(BaseModel):
    recorded: int = Field(description="Events stored by this request.")
    duplicates: int = Field(0, description="Events whose event_id was already stored.")


class ModelStatus(BaseModel):
    status: Literal["loaded", "missing", "error"]
    version: str | None = None
    trained_at: str | None = None
    users: int | None = None
    items: int | None = None
    detail: str | None = None


class SearchResponse(BaseModel):
    query: str
    modality: str
    items: list[RecommendationItem]


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    engine: str
    collection: str
    collection_exists: bool
    points: int | None
    encoders: dict[str, str]
    collaborative: ModelStatus | None = None
    ranker: ModelStatus | None = Field(
        None, description="The learned ranker's artefact; without one, the linear blend serves."
    )
    database: Literal["ok", "unavailable"] = Field(
        "ok",
        description="unavailable: unreachable (a degraded start or an outage); writes get 503, "
        "personalised lists use the history the models know, the API reconnects by itself.",
    )
    detail: str | None = None
