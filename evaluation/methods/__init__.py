"""The Method contract (base.py) and every evaluated method behind it."""
