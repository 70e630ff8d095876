"""The domain both sides use: vector store, encoders, collaborative model, interactions,
Spotify metadata and the recommendation pipeline.

`api/` (HTTP) and `indexer/` (ingestion) import from here; nothing here imports them.
"""
