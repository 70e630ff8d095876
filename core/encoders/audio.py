"""Audio features → a standardized vector.

The scaler is fitted once, on the first tracks of the first catalog indexed into a collection
(the indexer reads them ahead in the same pass), and stored in the collection's metadata: later
batches and query-time vectors must use the same means and deviations, or the same song
indexed twice would land in two places. A scaler is checked finite before it is built, so one
absurd catalog value can never store a NaN that silently disables the audio modality.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.encoders.base import Encoder
from schemas.layout import AUDIO, AUDIO_DIM, AUDIO_NUMERIC_FEATURES

AudioFeatures = dict[str, float]


@dataclass(frozen=True)
class AudioScaler:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    count: int

    def __post_init__(self) -> None:
        mean, std = np.asarray(self.mean, dtype=np.float64), np.asarray(self.std, dtype=np.float64)
        if mean.shape != std.shape or mean.shape != (len(AUDIO_NUMERIC_FEATURES),):
            raise ValueError("audio scaler has the wrong number of features")
        bad = [
            f
            for f, m, s in zip(AUDIO_NUMERIC_FEATURES, mean, std, strict=True)
            if not (math.isfinite(m) and math.isfinite(s) and s > 0)
        ]
        if bad:
            raise ValueError(
                f"audio scaler is not finite for {', '.join(bad)}: the catalog's audio values "
                "are out of any plausible range"
            )

    @classmethod
    def fit(cls, rows: Iterable[AudioFeatures | None]) -> AudioScaler:
        """Mean and deviation of each feature over the rows with audio.

        Two-pass in float64 (numpy's mean, then the mean squared deviation), not running sums
        of squares, which overflow or cancel on extreme values; non-finite input is refused.
        Callers bound the rows (the indexer fits on a sample), so they fit in memory.
        """
        data = np.array(
            [[row[f] for f in AUDIO_NUMERIC_FEATURES] for row in rows if row is not None],
            dtype=np.float64,
        ).reshape(-1, len(AUDIO_NUMERIC_FEATURES))
        if len(data) == 0:
            raise ValueError(
                "cannot fit the audio scaler: no track in the catalog has audio features"
            )
        finite = np.isfinite(data).all(axis=0)
        if not finite.all():
            bad = [
                f
                for f, ok in zip(
                    AUDIO_NUMERIC_FEATURES, np.atleast_1d(finite).tolist(), strict=True
                )
                if not ok
            ]
            raise ValueError(f"cannot fit the audio scaler: non-finite values in {bad}")
        mean = data.mean(axis=0)
        with np.errstate(over="ignore", invalid="ignore"):
            std = data.std(axis=0)
        # A constant feature (std 0) would divide by zero; 1.0 leaves it at 0 after centering.
        std = np.where(std > 1e-6, std, 1.0)
        return cls(tuple(mean.tolist()), tuple(std.tolist()), len(data))

    def to_dict(self) -> dict:
        return {
            "features": list(AUDIO_NUMERIC_FEATURES),
            "mean": list(self.mean),
            "std": list(self.std),
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, data: dict) -> AudioScaler:
        if data.get("features") != list(AUDIO_NUMERIC_FEATURES):
            raise ValueError(
                "stored audio scaler was fitted on other features; re-index the collection"
            )
        return cls(tuple(data["mean"]), tuple(data["std"]), int(data["count"]))

    @property
    def fingerprint(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


class AudioEncoder(Encoder[AudioFeatures]):
    vector_name = AUDIO
    dim = AUDIO_DIM

    def __init__(self, scaler: AudioScaler) -> None:
        self.scaler = scaler
        self._mean = np.array(scaler.mean, dtype=np.float64)
        self._std = np.array(scaler.std, dtype=np.float64)
        self.encoder_id = f"audio-zscore/{scaler.fingerprint}"

    def vector(self, features: AudioFeatures) -> np.ndarray:
        x = np.array([features[f] for f in AUDIO_NUMERIC_FEATURES], dtype=np.float64)
        z = (x - self._mean) / self._std
        angle = 2 * math.pi * (float(features["key"]) % 12) / 12
        return np.concatenate([z, [math.sin(angle), math.cos(angle)]]).astype(np.float32)

    def encode(self, items: Sequence[AudioFeatures | None]) -> list[np.ndarray | None]:
        return [None if f is None else self.vector(f) for f in items]
