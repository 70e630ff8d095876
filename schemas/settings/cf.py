"""The strong collaborative models (EASE, iALS, RP3β, similar listeners): their
hyper-parameters. `musicrec train` fits the ones whose source `MUSICREC_SOURCES` switches on
(pool sizes `pool_<name>` beside the other sources'), on the ranker's feature part and on all
interactions; the ranker artefact carries them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.settings.section import Section

CFName = Literal["ease", "ials", "rp3beta", "userknn"]


class CFSettings(Section):
    ease_lambda: float = Field(200.0, gt=0, description="EASE's L2 regularisation λ.")
    ease_max_items: int = Field(
        6000,
        ge=10,
        le=40_000,
        description="EASE is exact (a dense n×n inverse) over at most this many of the "
        "most-held tracks; the others get no EASE score (missing, not 0). 6,000 tracks: "
        "a 144 MB float32 solve.",
    )
    ease_topk: int = Field(
        200,
        ge=1,
        le=10_000,
        description="Weights kept per track of EASE's item-item matrix when published "
        "(sparse artefact, sparse scoring).",
    )
    ials_factors: int = Field(128, ge=1, le=2048)
    ials_regularization: float = Field(10.0, ge=0)
    ials_alpha: float = Field(10.0, gt=0, description="Confidence 1 + α·x of a held track.")
    ials_iterations: int = Field(15, ge=1, le=200)
    rp3_alpha: float = Field(0.5, gt=0, le=5)
    rp3_beta: float = Field(0.4, ge=0, le=2, description="Popularity penalty p(j)^-β.")
    rp3_topk: int = Field(200, ge=1, le=10_000, description="Neighbours kept per track.")
    userknn_neighbours: int = Field(
        50, ge=1, le=10_000, description="Most similar listeners (cosine) per history."
    )
    cf_threads: int = Field(2, ge=1, le=64, description="Threads for iALS fitting.")
    cf_seed: int = 42
