"""The LightFM model the API serves, swapped (never mutated) when a newer artefact appears.

A newer artefact (published atomically by `musicrec train`) is loaded beside the old one and
replaces it in one assignment, so requests in flight finish on the model they started with,
and a broken artefact leaves the old one serving (`core.artefacts.ArtefactHolder`).
"""

from __future__ import annotations

from pathlib import Path

from core.artefacts import ArtefactHolder
from core.collab.artefact import LATEST, load
from core.collab.model import CollaborativeModel


class ModelHolder(ArtefactHolder[CollaborativeModel]):
    def __init__(self, model_dir: Path, reload_seconds: float = 10.0) -> None:
        super().__init__(model_dir, LATEST, load, reload_seconds)

    @property
    def model_dir(self) -> Path:
        return self.directory
