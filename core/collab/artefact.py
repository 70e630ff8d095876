"""The collaborative model on disk: versioned ``.npz`` artefacts, a ``latest`` pointer, pruning.

One artefact is one compressed ``.npz`` of plain arrays and JSON (no pickle: loading a model
must not execute code), published with `core.files.atomic_write`, then named by the ``latest``
pointer file, replaced atomically too: a crash at any point leaves the previous model served.
Old artefacts are pruned after a publish (the newest ``keep`` stay, and never the one
``latest`` names, which an operator may have pointed back to an older model).

The format is read by `CollaborativeModel` alone (numpy, no LightFM): user and feature
embeddings and biases, the item-feature rows of every catalog track, the training
interactions and the featurizer with its vocabulary.
"""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.artefacts import (
    ArtefactError,
    checked_csr,
    checked_ids,
    describe,
    publish,
    read_pointer,
)
from core.artefacts import prune as prune_artefacts
from core.collab.features import Featurizer
from core.collab.model import CollaborativeModel

__all__ = [
    "FORMAT_VERSION",
    "LATEST",
    "ModelArtefactError",
    "latest_name",
    "load",
    "load_latest",
    "prune",
    "save",
]

FORMAT_VERSION = 1
LATEST = "latest"
PREFIX, SUFFIX = "lightfm", ".npz"

log = logging.getLogger(__name__)


class ModelArtefactError(ArtefactError):
    """An artefact is unreadable, inconsistent or of an unknown format version."""


def save(model: CollaborativeModel, directory: str | Path, keep: int | None = None) -> Path:
    """Write a new versioned artefact, point ``latest`` at it, then prune to the newest
    ``keep`` artefacts (None: keep all); returns the artefact's path."""
    directory = Path(directory)
    meta = {**model.metadata, "format_version": FORMAT_VERSION}
    arrays = {
        "meta": _json_bytes(meta),
        "user_ids": _json_bytes(model.user_ids),
        "track_ids": _json_bytes(model.track_ids),
        "vocabulary": _json_bytes(model.vocabulary),
        "featurizer": _json_bytes(
            {
                "weights": model.featurizer.weights,
                "audio_edges": model.featurizer.audio_edges,
                "reserve_identity": model.featurizer.reserve_identity,
            }
        ),
        "n_warm": np.array(model.n_warm),
        "item_embeddings": model.item_embeddings,
        "item_biases": model.item_biases,
        "user_embeddings": model.user_embeddings,
        "user_biases": model.user_biases,
        **_csr_arrays("item_features", model.item_features),
        **_csr_arrays("user_items", model.user_items),
    }
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds as allow_pickle
    return publish(directory, PREFIX, SUFFIX, buffer.getvalue(), LATEST, keep)


def prune(directory: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` LightFM artefacts, never the one ``latest`` names."""
    try:
        return prune_artefacts(Path(directory), PREFIX, SUFFIX, LATEST, keep)
    except ArtefactError as exc:
        raise ModelArtefactError(str(exc)) from exc


def latest_name(directory: str | Path) -> str | None:
    """The artefact file name ``latest`` holds, or None when nothing was ever published."""
    try:
        return read_pointer(Path(directory), LATEST)
    except ArtefactError as exc:
        raise ModelArtefactError(str(exc)) from exc


def load_latest(directory: str | Path) -> CollaborativeModel | None:
    """The artefact ``latest`` names, or None when no model was ever published there."""
    name = latest_name(directory)
    return None if name is None else load(Path(directory) / name)


def load(path: str | Path) -> CollaborativeModel:
    """Load one artefact; any unreadable, pickled, inconsistent or other-version file raises
    `ModelArtefactError` naming the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if not isinstance(arrays, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            meta = _from_json(arrays["meta"])
            version = meta.get("format_version") if isinstance(meta, dict) else None
            if version != FORMAT_VERSION:
                raise ModelArtefactError(
                    f"{path}: artefact format version {version}, this code reads "
                    f"{FORMAT_VERSION}; retrain with `musicrec train`"
                )
            featurizer = _from_json(arrays["featurizer"])
            return CollaborativeModel(
                user_ids=checked_ids("user_ids", _from_json(arrays["user_ids"])),
                track_ids=checked_ids("track_ids", _from_json(arrays["track_ids"])),
                n_warm=_scalar_int("n_warm", arrays["n_warm"]),
                vocabulary=_from_json(arrays["vocabulary"]),
                featurizer=Featurizer(
                    featurizer["weights"],
                    featurizer["audio_edges"],
                    # Absent from artefacts written before warm-only training: their cold
                    # items trained with rows normalized to one.
                    bool(featurizer.get("reserve_identity", False)),
                ),
                item_features=_csr_from(arrays, "item_features"),
                user_items=_csr_from(arrays, "user_items"),
                user_embeddings=arrays["user_embeddings"],
                user_biases=arrays["user_biases"],
                item_embeddings=arrays["item_embeddings"],
                item_biases=arrays["item_biases"],
                metadata=meta,
            )
    except ModelArtefactError:
        raise
    except Exception as exc:  # zlib.error, BadZipFile, KeyError, ValueError, MemoryError, …
        # A damaged file fails in whichever layer meets the damage first; all of them mean
        # "unreadable", and the name of the kind says where.
        raise ModelArtefactError(f"cannot load model artefact {path}: {describe(exc)}") from exc


def _json_bytes(value: object) -> np.ndarray:
    return np.frombuffer(json.dumps(value, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _from_json(array: np.ndarray) -> Any:
    if array.dtype != np.uint8:
        raise ValueError(f"expected a UTF-8 JSON byte array, got dtype {array.dtype}")
    return json.loads(array.tobytes().decode("utf-8"))


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.array(matrix.shape),
    }


def _csr_from(arrays: Any, prefix: str) -> sp.csr_matrix:
    return checked_csr(
        prefix,
        arrays[f"{prefix}_data"],
        arrays[f"{prefix}_indices"],
        arrays[f"{prefix}_indptr"],
        arrays[f"{prefix}_shape"],
    )


def _scalar_int(name: str, array: np.ndarray) -> int:
    if array.shape != () or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected one integer, got {array.dtype} {array.shape}")
    return int(array)
