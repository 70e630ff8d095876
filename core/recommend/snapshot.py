"""What one request serves from, read once at its start.

The LightFM model and the ranker artefact are hot-reloaded (`core.artefacts`): a holder read
twice in one request can hand out two different artefacts, and a page could then carry one
model's scores under the other's version. So a request reads each holder ONCE, through
`Holder.pinned()` (artefact and version in one read), into a `Snapshot`, and everything
downstream — the user's history, every candidate source (`SeedQuery.snapshot`), the features,
the ranker choice, the logged versions — uses that snapshot and never a holder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.artefacts import Holder

if TYPE_CHECKING:  # the artefact module imports the features, which import the sources
    import lightgbm as lgb

    from core.collab.model import CollaborativeModel
    from core.recommend.rankers.artefact import RankerArtefact
    from core.recommend.user_tracks import UserTrackMatrix


@dataclass(frozen=True)
class Snapshot:
    model: CollaborativeModel | None = None
    model_version: str | None = None
    artefact: RankerArtefact | None = None
    ranker_version: str | None = None

    @property
    def index(self) -> UserTrackMatrix | None:
        """The interaction matrix of the ranker artefact (co-occurrence, co-listened artists,
        popularity); None without an artefact."""
        return self.artefact.index if self.artefact is not None else None

    @property
    def booster(self) -> lgb.Booster | None:
        return self.artefact.booster if self.artefact is not None else None


def take_snapshot(
    collab: Holder[CollaborativeModel] | None, ranker: Holder[RankerArtefact] | None
) -> Snapshot:
    model, model_version = collab.pinned() if collab is not None else (None, None)
    artefact, ranker_version = ranker.pinned() if ranker is not None else (None, None)
    return Snapshot(model, model_version, artefact, ranker_version)
