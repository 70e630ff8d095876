"""The collaborative model (LightFM): its artefacts, training and hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

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
        description="Artefacts of each kind (LightFM model, learned ranker) kept after `musicrec "
        "train` publishes one (the newest; the one a pointer names is never deleted).",
    )
    lightfm_loss: Literal["warp", "bpr", "logistic"] = "warp"
    lightfm_components: int = Field(32, ge=1, le=512)
    lightfm_epochs: int = Field(20, ge=1, le=1000)
    lightfm_learning_rate: float = Field(0.05, gt=0, le=1)
    lightfm_item_alpha: float = Field(1e-6, ge=0)
    lightfm_threads: int = Field(2, ge=1, le=64)
    lightfm_seed: int = 42

    def lightfm_options(self) -> dict[str, Any]:
        """The `lightfm_*` settings as `core.collab.training.train`'s keyword arguments: the
        one mapping, for `musicrec train` and every tool that trains as it does."""
        return {
            "loss": self.lightfm_loss,
            "no_components": self.lightfm_components,
            "epochs": self.lightfm_epochs,
            "learning_rate": self.lightfm_learning_rate,
            "item_alpha": self.lightfm_item_alpha,
            "num_threads": self.lightfm_threads,
            "seed": self.lightfm_seed,
        }

    model_reload_seconds: float = Field(
        10.0,
        ge=0,
        description="How often a background task of the API looks for a newer model artefact "
        "(0: on every personalised request instead).",
    )
