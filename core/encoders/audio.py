"""Audio features → a standardized vector.

The scaler is fitted once on the catalog and stored in the collection's metadata: later
batches and query-time vectors must use the same means and deviations, or the same song
indexed twice would land in two places.
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

    @classmethod
    def fit(cls, rows: Iterable[AudioFeatures | None]) -> AudioScaler:
        """Streaming fit (sums in float64), so a 1M-row catalog never sits in memory."""
        n = 0
        total = np.zeros(len(AUDIO_NUMERIC_FEATURES))
        total_sq = np.zeros(len(AUDIO_NUMERIC_FEATURES))
        for row in rows:
            if row is None:
                continue
            x = np.array([row[f] for f in AUDIO_NUMERIC_FEATURES], dtype=np.float64)
            n += 1
            total += x
            total_sq += x * x
        if n == 0:
            raise ValueError(
                "cannot fit the audio scaler: no track in the catalog has audio features"
            )
        mean = total / n
        var = np.maximum(total_sq / n - mean * mean, 0.0)
        # A constant feature (std 0) would divide by zero; 1.0 leaves it at 0 after centering.
        std = np.where(var > 1e-12, np.sqrt(var), 1.0)
        return cls(tuple(mean.tolist()), tuple(std.tolist()), n)

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
