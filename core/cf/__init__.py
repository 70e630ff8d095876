"""Collaborative-filtering models behind one contract (`base.ItemScorer`)."""

from collections.abc import Callable, Mapping

import numpy as np

from core.cf.base import ItemScorer
from core.cf.ease import EASE
from core.cf.ials import IALS
from core.cf.rp3beta import RP3Beta
from core.cf.userknn import UserKNN


class ModelArraysError(ValueError):
    """Arrays that do not describe a model."""


_LOADERS: dict[str, Callable[[Mapping[str, np.ndarray]], ItemScorer]] = {
    "ease": EASE.from_arrays,
    "ials": IALS.from_arrays,
    "rp3beta": RP3Beta.from_arrays,
    "userknn": UserKNN.from_arrays,
}


def load_arrays(arrays: Mapping[str, np.ndarray]) -> ItemScorer:
    kind = str(arrays["kind"]) if "kind" in arrays else ""
    if kind not in _LOADERS:
        raise ModelArraysError(f"kind: unknown model {kind!r}")
    return _LOADERS[kind](arrays)


__all__ = ["EASE", "IALS", "ItemScorer", "ModelArraysError", "RP3Beta", "UserKNN", "load_arrays"]
