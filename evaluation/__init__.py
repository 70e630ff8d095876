"""Recommendation quality measured through the product's own code."""
