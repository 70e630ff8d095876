"""Domain results → response bodies: the only place the API's DTOs meet the recommender."""

from __future__ import annotations

from dataclasses import asdict

from core.recommend.results import RankedTrack, Recommendation, SearchResult
from schemas.api import (
    Personalization,
    RecommendationItem,
    RecommendationResponse,
    SearchResponse,
    TrackOut,
)


def item(ranked: RankedTrack) -> RecommendationItem:
    return RecommendationItem(
        track=TrackOut.from_track(ranked.track, ranked.has_lyrics),
        score=ranked.score,
        similarities=ranked.similarities,
        content_score=ranked.content_score,
        collaborative_score=ranked.collaborative_score,
        blended_score=ranked.blended_score,
        sources=ranked.sources,
        explanation=ranked.explanation,
    )


def recommendation(result: Recommendation, request_id: str | None = None) -> RecommendationResponse:
    return RecommendationResponse(
        items=[item(r) for r in result.items],
        fusion=result.fusion,
        modalities=result.modalities,
        weights=result.weights,
        personalization=Personalization(**asdict(result.personalization)),
        request_id=request_id,
    )


def search(result: SearchResult) -> SearchResponse:
    return SearchResponse(
        query=result.query, modality=result.modality, items=[item(r) for r in result.items]
    )
