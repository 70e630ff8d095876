"""Contracts shared by the indexer and the API: settings, collection layout, data models."""
