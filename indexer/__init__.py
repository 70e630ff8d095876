"""Catalog → encoders → Qdrant: everything that writes the collection."""
