"""The collaborative model (LightFM): its artefacts, training and hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from schemas.settings.section import Section


class CollaborativeSettings(Section):
    model_dir: Path | None = Field(
        None, description="LightFM artefacts; default <data_dir>/models."
    )
    model_keep: int = Field(
        5,
        ge=1,
        le=1000,
        description="Model artefacts kept after `musicrec train` publishes one (the newest; "
        "the one `latest` names is never deleted).",
    )
    lightfm_loss: Literal["warp", "bpr", "logistic"] = "warp"
    lightfm_components: int = Field(32, ge=1, le=512)
    lightfm_epochs: int = Field(20, ge=1, le=1000)
    lightfm_learning_rate: float = Field(0.05, gt=0, le=1)
    lightfm_item_alpha: float = Field(1e-6, ge=0)
    lightfm_threads: int = Field(2, ge=1, le=64)
    lightfm_seed: int = 42
    model_reload_seconds: float = Field(
        10.0,
        ge=0,
        description="How often a background task of the API looks for a newer model artefact "
        "(0: on every personalised request instead).",
    )
