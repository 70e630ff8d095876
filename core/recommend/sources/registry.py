"""The candidate sources by name: what each is built from, how many candidates it proposes,
and where its signal shows in the ranker's features and explanations.

Adding a source is its module plus ONE `SourceSpec` in `REGISTRY`:

* `name`: the source's name (its `CandidateSource.name`, the `sources` of each result, the
  entry of `MUSICREC_SOURCES`);
* `build(deps) -> CandidateSource`: called once per recommender with `SourceDeps` (the store,
  the content source, the recommendation settings); the source then answers
  `propose(query, n)` per request (`sources.base`: at most `n` distinct tracks, best first,
  none of `query.excluded`, `[]` when it has nothing to say), reading the model and the
  interaction matrix of THIS request from `query.snapshot` (never from a holder), and
  state derived from the matrix through `PerIndex`;
* `pool(settings) -> int`: its pool size, read from the settings (add a `pool_<name>` field
  to `schemas/settings/recommend.py`: the defaults live there and only there);
* `group`: the explanation group its `<name>_score` / `<name>_rank` features are summed into
  (default: its own name, shown as one more signal);
* `blend`: whether it also feeds the linear blend's pool (the manual control mixes content and
  LightFM only; every source feeds the learned ranker);
* `page`: asked for at least offset + limit candidates (content, so a deep page is never short).

The feature columns (`features.FeatureLayout`) derive from the sources that are switched on,
in this order, so adding or removing one needs a retrained ranker (`musicrec train`); an
artefact trained on other features is refused at load and the last good one keeps serving.
Which sources take part is `MUSICREC_SOURCES` (a JSON list of names; default: all of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from core.recommend.sources.artist import ArtistSource
from core.recommend.sources.base import CandidateSource
from core.recommend.sources.cf import CFSource
from core.recommend.sources.colistened import ColistenedSource
from core.recommend.sources.collaborative import CollaborativeSource
from core.recommend.sources.content import ContentSource
from core.recommend.sources.cooccurrence import CooccurrenceSource, PopularitySource
from core.store import VectorStore
from schemas.settings.recommend import RecommendSettings


@dataclass(frozen=True)
class SourceDeps:
    """What a source may be built from (once per recommender)."""

    store: VectorStore
    content: ContentSource  # the fused engine query, configured from the settings
    settings: RecommendSettings


@dataclass(frozen=True)
class SourceSpec:
    name: str
    build: Callable[[SourceDeps], CandidateSource]
    pool: Callable[[RecommendSettings], int]
    group: str = ""  # "" = its own name
    blend: bool = False
    page: bool = False

    @property
    def explanation_group(self) -> str:
        return self.group or self.name


REGISTRY: tuple[SourceSpec, ...] = (
    SourceSpec("content", lambda d: d.content, attrgetter("candidate_pool"), blend=True, page=True),
    SourceSpec(
        "collaborative",
        lambda d: CollaborativeSource(),
        attrgetter("pool_collaborative"),
        blend=True,
    ),
    SourceSpec("cooccurrence", lambda d: CooccurrenceSource(), attrgetter("pool_cooccurrence")),
    SourceSpec("artist", lambda d: ArtistSource(d.content), attrgetter("pool_artist")),
    SourceSpec(
        "colistened", lambda d: ColistenedSource(), attrgetter("pool_colistened"), group="artist"
    ),
    SourceSpec("popularity", lambda d: PopularitySource(), attrgetter("pool_popularity")),
    # The strong collaborative models of the ranker artefact (`cf_models`), one group each.
    SourceSpec("ease", lambda d: CFSource("ease"), attrgetter("pool_ease")),
    SourceSpec("ials", lambda d: CFSource("ials"), attrgetter("pool_ials")),
    SourceSpec("rp3beta", lambda d: CFSource("rp3beta"), attrgetter("pool_rp3beta")),
    SourceSpec("userknn", lambda d: CFSource("userknn"), attrgetter("pool_userknn")),
)


def enabled(
    settings: RecommendSettings, registry: Sequence[SourceSpec] = REGISTRY
) -> tuple[SourceSpec, ...]:
    """The sources `settings.sources` switches on (all registered ones when unset), in the
    order given there; an unknown or repeated name is a configuration error naming them."""
    by_name = {s.name: s for s in registry}
    if len(by_name) != len(registry):
        raise ValueError(f"two registered sources share a name: {[s.name for s in registry]}")
    names = list(by_name) if settings.sources is None else settings.sources
    unknown = [n for n in names if n not in by_name]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if unknown or repeated or not names:
        raise ValueError(
            f"MUSICREC_SOURCES={names!r}: "
            + (f"unknown {unknown}; " if unknown else "")
            + (f"repeated {repeated}; " if repeated else "")
            + ("empty; " if not names else "")
            + f"the registered sources are {list(by_name)}"
        )
    return tuple(by_name[n] for n in names)
