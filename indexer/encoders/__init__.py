"""Encoders turn one modality of a track into the vector stored under that modality's name."""

from indexer.encoders.base import Encoder

__all__ = ["Encoder"]
