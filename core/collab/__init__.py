"""The collaborative side: LightFM on user–track interactions with track metadata features
(cold start).

- `features`: track metadata → normalized item-feature rows (`Featurizer`).
- `model`: `CollaborativeModel`, scoring in plain numpy from the trained embeddings (what the
  API serves; no LightFM object).
- `artefact`: versioned ``.npz`` save/load, the ``latest`` pointer, pruning old artefacts.
- `training`: `train`, the only module that imports LightFM.
- `holder`: `ModelHolder`, hot reload of the newest artefact for serving.
"""
