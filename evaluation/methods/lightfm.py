"""LightFM alone: `core.collab.training.train` on the training side, `CollaborativeModel.recommend`
to answer (the product's own model and ranking, without the content pool around it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.collab.features import DEFAULT_FEATURE_WEIGHTS
from core.collab.model import CollaborativeModel
from core.collab.training import train
from evaluation.methods.base import Query, TrainData


@dataclass(frozen=True)
class LightFMConfig:
    """Hyper-parameters of one row of the LightFM sweep (defaults: the product's)."""

    loss: str = "warp"
    no_components: int = 32
    epochs: int = 20
    feature_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_FEATURE_WEIGHTS)
    )


class LightFMMethod:
    """Single-threaded by default: LightFM with more threads is not bit-reproducible."""

    def __init__(
        self,
        seed: int,
        config: LightFMConfig | None = None,
        *,
        threads: int = 1,
        name: str = "LightFM only",
    ) -> None:
        self.name = name
        self.seed = seed
        self.config = config or LightFMConfig()
        self.threads = threads
        self.model: CollaborativeModel | None = None

    def fit(self, data: TrainData) -> LightFMMethod:
        self.model = train(
            data.interactions,
            data.catalog,
            loss=self.config.loss,
            no_components=self.config.no_components,
            epochs=self.config.epochs,
            feature_weights=self.config.feature_weights,
            num_threads=self.threads,
            seed=self.seed,
        )
        return self

    def rank(self, query: Query, k: int) -> list[str]:
        """The model's top k for a user it knows (its training tracks excluded); nothing for
        a user it never saw, as the product answers such a user with an error."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if self.model is None:
            raise RuntimeError("fit the ranker first")
        user = query.user_id
        if user is None or not self.model.has_user(user):
            return []
        banned = query.banned - self.model.known_items(user)
        ranked = [t for t, _ in self.model.recommend(user, k + len(banned))]
        return [t for t in ranked if t not in banned][:k]
