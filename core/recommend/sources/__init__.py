"""Candidate sources: each proposes tracks for a seeded request, best first.

The recommender takes the union of what its sources propose (the pool), fetches what it has
not got yet in one store call, scores and ranks it. A new signal is one more source.
"""

from core.recommend.sources.artist import ArtistSource
from core.recommend.sources.base import CandidateSource, Proposal
from core.recommend.sources.cf import CFSource
from core.recommend.sources.colistened import ColistenedSource
from core.recommend.sources.collaborative import CollaborativeSource
from core.recommend.sources.content import ContentSource
from core.recommend.sources.cooccurrence import CooccurrenceSource, PopularitySource

__all__ = [
    "ArtistSource",
    "CFSource",
    "CandidateSource",
    "ColistenedSource",
    "CollaborativeSource",
    "ContentSource",
    "CooccurrenceSource",
    "PopularitySource",
    "Proposal",
]
