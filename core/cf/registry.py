"""Every item scorer by its `kind`, and loading one from its arrays whatever its kind (what an
artefact reader needs: the arrays name their model)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from core.cf.base import ItemScorer, ModelArraysError, text
from core.cf.ease import EASE
from core.cf.factors import BPR, IALS
from core.cf.graph import RP3Beta
from core.cf.neighbours import ItemKNN, UserKNN

MODELS: dict[str, type[ItemScorer]] = {
    cls.kind: cls for cls in (EASE, IALS, BPR, RP3Beta, ItemKNN, UserKNN)
}


def load_arrays(arrays: Mapping[str, np.ndarray]) -> ItemScorer:
    """The model `to_arrays` wrote; `ModelArraysError` for an unknown kind or a bad array."""
    kind = text(arrays, "kind")
    if kind not in MODELS:
        raise ModelArraysError(f"kind: unknown model {kind!r} (known: {sorted(MODELS)})")
    return MODELS[kind].from_arrays(arrays)
