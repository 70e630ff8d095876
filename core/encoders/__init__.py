"""Encoders turn one modality of a track into the vector stored under that modality's name."""

from core.encoders.base import Encoder

__all__ = ["Encoder"]
