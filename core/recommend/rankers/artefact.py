"""The learned ranker's artefact: the LightGBM booster plus the interaction matrix (and its
tracks' artists) its co-occurrence, co-listened artist and popularity features are computed
from, and the collaborative models (EASE, iALS, RP3β, UserKNN: `cf_models`) fitted on that
matrix, published like the LightFM model.

The models travel with the booster rather than in an artefact of their own: the booster was
trained on their scores, so one version names both, a reload swaps both at once, and a broken
model fails the whole file (the last good booster and models keep serving together).

One compressed ``.npz`` (no pickle: loading must not execute code) beside the LightFM
artefact, ``ranker-<time>-<hash>.npz``, named by the ``ranker-latest`` pointer
(`core.artefacts.publish`); `ranker_holder` hot-reloads it and keeps the last good one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from core.artefacts import (
    ArtefactError,
    ArtefactHolder,
    checked_csr,
    checked_ids,
    describe,
    expect_shape,
    publish,
)
from core.recommend.cf_models import CFScores
from core.recommend.features import FEATURE_NAMES
from core.recommend.user_tracks import UserTrackMatrix

FORMAT_VERSION = 3  # 2: the tracks' artists (co-listened artists); 3: the CF models
POINTER = "ranker-latest"
CF = "cf/"  # the prefix of the collaborative models' arrays


@dataclass
class RankerArtefact:
    """`booster` is None for the in-memory artefact training builds its features with."""

    index: UserTrackMatrix
    booster: lgb.Booster | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    features: Sequence[str] = FEATURE_NAMES  # the columns the booster was trained on
    cf: CFScores | None = None  # fitted on `index`; None: no collaborative model serves

    def save(self, directory: Path, keep: int | None = None) -> Path:
        """Publish beside the LightFM model; prune to the newest `keep` rankers."""
        if self.booster is None:
            raise ValueError("an artefact without a booster is never published")
        m = self.index.matrix
        arrays: dict[str, Any] = {
            "meta": _json(
                {
                    **self.metadata,
                    "format_version": FORMAT_VERSION,
                    "cf_models": self.cf.names if self.cf is not None else [],
                }
            ),
            "features": _json(list(self.features)),
            "booster": np.frombuffer(self.booster.model_to_string().encode(), dtype=np.uint8),
            "user_ids": _json(self.index.user_ids),
            "track_ids": _json(self.index.track_ids),
            "track_artists": _json(
                None if self.index.artists is None else self.index.artists.track_artists
            ),
            "indices": m.indices,
            "indptr": m.indptr,
            "shape": np.array(m.shape),
        }
        if self.cf is not None:
            arrays |= {f"{CF}{k}": v for k, v in self.cf.to_arrays().items()}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return publish(directory, "ranker", ".npz", buffer.getvalue(), POINTER, keep)


def load(path: Path, features: Sequence[str] = FEATURE_NAMES) -> RankerArtefact:
    """The artefact at `path`, refused unless trained on `features` (the serving layout)."""
    try:
        with np.load(path, allow_pickle=False) as a:
            meta = _unjson(a["meta"])
            if meta.get("format_version") != FORMAT_VERSION:
                raise ArtefactError(
                    f"{path}: ranker format version {meta.get('format_version')}, this code "
                    f"reads {FORMAT_VERSION}; retrain with `musicrec train`"
                )
            trained = _unjson(a["features"])
            if trained != list(features):
                raise ArtefactError(
                    f"{path}: trained on other features (other candidate sources, "
                    f"MUSICREC_SOURCES?): {sorted(set(trained) ^ set(features))} differ; "
                    "retrain with `musicrec train`"
                )
            booster = lgb.Booster(model_str=a["booster"].tobytes().decode())
            if booster.num_feature() != len(features):
                raise ValueError(
                    f"booster: {booster.num_feature()} features, this code computes {len(features)}"
                )
            user_ids = checked_ids("user_ids", _unjson(a["user_ids"]))
            track_ids = checked_ids("track_ids", _unjson(a["track_ids"]))
            indices = a["indices"]
            matrix = checked_csr(
                "matrix", np.ones(len(indices), np.float32), indices, a["indptr"], a["shape"]
            )
            expect_shape("matrix", matrix.shape, (len(user_ids), len(track_ids)))
            index = UserTrackMatrix(
                user_ids, track_ids, matrix, _track_artists(_unjson(a["track_artists"]), track_ids)
            )
            names = meta.get("cf_models") or []
            cf = (
                CFScores.from_arrays(
                    index, names, {k[len(CF) :]: a[k] for k in a.files if k.startswith(CF)}
                )
                if names
                else None
            )
    except ArtefactError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, KeyError, LightGBMError, …: "unreadable"
        raise ArtefactError(f"{path}: not a readable ranker artefact ({describe(exc)})") from exc
    return RankerArtefact(index, booster, meta, tuple(trained), cf)


def ranker_holder(
    model_dir: Path, reload_seconds: float = 10.0, features: Sequence[str] = FEATURE_NAMES
) -> ArtefactHolder[RankerArtefact]:
    """Hot-reloads the published ranker; one trained on other `features` is not loaded."""
    return ArtefactHolder(model_dir, POINTER, lambda p: load(p, features), reload_seconds)


def _track_artists(value: Any, track_ids: list[str]) -> list[list[str]] | None:
    """None (artists unknown) or one list of artist names per track id."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or len(value) != len(track_ids)
        or not all(isinstance(a, list) and all(isinstance(n, str) for n in a) for a in value)
    ):
        raise ValueError(
            f"track_artists: expected one list of names for each of {len(track_ids)} tracks"
        )
    return value


def _json(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode(), dtype=np.uint8)


def _unjson(array: np.ndarray) -> Any:
    return json.loads(array.tobytes().decode())
