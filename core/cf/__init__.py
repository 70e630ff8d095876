"""Collaborative item scorers from the literature's strong baselines (Dacrema et al., RecSys
2019; Steck, WWW 2019), behind one contract (`ItemScorer`, in `base`):

- `ease`: EASE^R, the closed-form item-item ridge regression (primal or dual form, exact).
- `factors`: iALS and BPR from `implicit` (CPU), folded in for histories unseen in training.
- `graph`: RP3β, the three-step random walk divided by popularity^β, top-k graph.
- `neighbours`: ItemKNN and UserKNN cosine, sparse top-k neighbours.

Every model scores histories given as rows (`score(H)`), so it serves a user who was not in
training, and round-trips through plain arrays (`to_arrays` / `load_arrays`, an ``.npz``
without pickle). numpy, scipy and implicit only.
"""

from core.cf.base import ItemScorer, ModelArraysError
from core.cf.ease import EASE
from core.cf.factors import BPR, IALS
from core.cf.graph import RP3Beta
from core.cf.neighbours import ItemKNN, UserKNN
from core.cf.registry import MODELS, load_arrays

__all__ = [
    "BPR",
    "EASE",
    "IALS",
    "MODELS",
    "ItemKNN",
    "ItemScorer",
    "ModelArraysError",
    "RP3Beta",
    "UserKNN",
    "load_arrays",
]
