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
import scipy.sparse as sp

from core.artefacts import ArtefactError, ArtefactHolder, publish
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
        arrays = {
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
            shape = tuple(int(n) for n in a["shape"])
            matrix = sp.csr_matrix(
                (np.ones(len(a["indices"]), np.float32), a["indices"], a["indptr"]), shape=shape
            )
            index = UserTrackMatrix(
                _unjson(a["user_ids"]),
                _unjson(a["track_ids"]),
                matrix,
                _unjson(a["track_artists"]),
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
    except Exception as exc:  # BadZipFile, KeyError, LightGBMError, …: all mean "unreadable"
        raise ArtefactError(f"{path}: not a readable ranker artefact ({exc!r})") from exc
    return RankerArtefact(index, booster, meta, tuple(trained), cf)


def ranker_holder(
    model_dir: Path, reload_seconds: float = 10.0, features: Sequence[str] = FEATURE_NAMES
) -> ArtefactHolder[RankerArtefact]:
    """Hot-reloads the published ranker; one trained on other `features` is not loaded."""
    return ArtefactHolder(model_dir, POINTER, lambda p: load(p, features), reload_seconds)


def _json(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode(), dtype=np.uint8)


def _unjson(array: np.ndarray) -> Any:
    return json.loads(array.tobytes().decode())
