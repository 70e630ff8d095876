"""A seeded request resolved once: seed points, complete weights, the query vector of every
modality that takes part, the filters and the tracks that must not come back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from core.recommend.errors import UnknownTracksError, UnsupportedQueryError
from core.recommend.query import query_vector
from core.recommend.snapshot import Snapshot
from core.store import PointRecord, VectorStore
from schemas.api import Filters
from schemas.layout import MODALITIES
from schemas.tracks import point_id
from schemas.vectors import Vector


@dataclass(frozen=True)
class SeedQuery:
    positive: Sequence[str]
    negative: Sequence[str]
    seeds: Mapping[str, PointRecord]
    weights: Mapping[str, float]
    queries: Mapping[str, Vector]
    filters: Filters
    exclude: Sequence[str]
    user_id: str | None = None
    # The model and ranker artefact this request serves from (`core.recommend.snapshot`).
    snapshot: Snapshot = field(default_factory=Snapshot)

    # Scores two parts of a request need (a source and the ranker's features) are computed
    # here, once per query: a query is one request, so nothing outlives it or is recomputed.

    @cached_property
    def cooccurrence(self) -> np.ndarray | None:
        """Per matrix track, its co-occurrence with the history; None without a matrix."""
        index = self.snapshot.index
        return None if index is None else index.history_cooccurrence(self.history())

    @cached_property
    def colistened(self) -> np.ndarray | None:
        """Per artist, how co-listened it is with the history's and the seeds' artists
        (`core.recommend.artists`); None without a matrix or artists."""
        index = self.snapshot.index
        if index is None:
            return None
        return index.colistened(self.history(), sorted(self.seed_artists()))

    def cf_scores(self, name: str) -> np.ndarray | None:
        """Collaborative model `name`'s read-only scores of the history, per matrix track
        (`core.recommend.cf_models`; NaN: not covered); None when the snapshot's artefact has
        no such model. Its source and the ranker's `cf_<name>` feature both read this."""
        if name not in self._cf:
            artefact = self.snapshot.artefact
            models = artefact.cf if artefact is not None else None
            self._cf[name] = None if models is None else models.scores(name, self.history())
        return self._cf[name]

    @cached_property
    def _cf(self) -> dict[str, np.ndarray | None]:
        return {}

    @cached_property
    def excluded(self) -> frozenset[str]:
        """Every track no source may propose: the exclusions and the seeds themselves."""
        return frozenset([*self.exclude, *self.positive, *self.negative])

    def history(self) -> list[str]:
        """The seeds plus what the snapshot's interaction matrix knows the user holds."""
        return list(self._history)

    @cached_property
    def _history(self) -> tuple[str, ...]:
        index = self.snapshot.index
        known = index.user_tracks(self.user_id) if index is not None else []
        return tuple(dict.fromkeys([*self.positive, *known]))

    def seed_artists(self) -> Counter[str]:
        """How many positive seeds each stored artist has (the artist and co-listened
        sources both start from them)."""
        positive = set(self.positive)
        return Counter(
            a
            for t, record in self.seeds.items()
            if t in positive
            for a in set(record.payload.get("artists") or ())
        )


def stored_tracks(
    store: VectorStore, track_ids: Sequence[str], *, with_vectors: bool = False
) -> dict[str, PointRecord]:
    """The stored points among the ids, by track id in the order asked for (the engine's own
    order differs between processes); missing ids are left out."""
    found = store.retrieve([point_id(t) for t in track_ids], with_vectors=with_vectors)
    by_track = {r.payload["track_id"]: r for r in found}
    return {t: by_track[t] for t in dict.fromkeys(track_ids) if t in by_track}


def fetch_seeds(
    store: VectorStore, track_ids: Sequence[str], *, strict: bool = True
) -> dict[str, PointRecord]:
    """Stored points (with vectors) for the ids, in the order asked for (the seeds' order is
    the order their vectors are summed in: another order, other rounding, another ranking);
    with `strict`, all must exist."""
    found = stored_tracks(store, track_ids, with_vectors=True)
    missing = [t for t in dict.fromkeys(track_ids) if t not in found]
    if missing and strict:
        raise UnknownTracksError(missing)
    return found


def complete_weights(
    requested: Mapping[str, float], defaults: Mapping[str, float]
) -> dict[str, float]:
    return {m: float(requested.get(m, defaults.get(m, 1.0))) for m in MODALITIES}


def seed_query(
    positive: Sequence[str],
    negative: Sequence[str],
    seeds: Mapping[str, PointRecord],
    weights: dict[str, float],
    filters: Filters,
    exclude: Sequence[str],
    user_id: str | None = None,
    snapshot: Snapshot | None = None,
) -> SeedQuery:
    """One query vector per modality the positive seeds have and that weighs more than 0."""
    queries: dict[str, Vector] = {}
    for name in MODALITIES:
        pos = [seeds[t].vectors[name] for t in positive if name in seeds[t].vectors]
        if weights[name] > 0 and pos:
            neg = [seeds[t].vectors[name] for t in negative if name in seeds[t].vectors]
            queries[name] = query_vector(pos, neg)
    if not queries:
        raise UnsupportedQueryError(
            "the seed tracks have no vectors in any modality with a weight above 0"
        )
    snap = snapshot or Snapshot()
    return SeedQuery(positive, negative, seeds, weights, queries, filters, exclude, user_id, snap)
