"""How recommendations are made: the fused content query and the candidate pool's ranking."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.layout import MODALITIES, Modality
from schemas.settings.section import Section


class RecommendSettings(Section):
    fusion: Literal["rrf", "dbsf"] = "rrf"
    default_weights: dict[Modality, float] = Field(
        default_factory=lambda: dict.fromkeys(MODALITIES, 1.0),
        description="Per-modality fusion weights when a request names none (JSON).",
    )
    rrf_k: int = Field(60, ge=1, le=1000)
    prefetch_limit: int = Field(200, ge=1, le=10_000, description="Candidates per modality.")
    collab_weight: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Default share of the LightFM score in the linear blend (the ranking used "
        "when no learned ranker is loaded, or when a request sets collab_weight); how the "
        "default was chosen is in docs/evaluation.md.",
    )
    candidate_pool: int = Field(
        200, ge=10, le=5000, description="Fused candidates reranked by the collaborative model."
    )
