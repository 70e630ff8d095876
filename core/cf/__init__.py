"""Collaborative-filtering models behind one contract (`base.CFModel`)."""

from core.cf.base import CFModel
from core.cf.ease import EASE
from core.cf.ials import IALS
from core.cf.rp3beta import RP3Beta
from core.cf.userknn import UserKNN

__all__ = ["EASE", "IALS", "CFModel", "RP3Beta", "UserKNN"]
