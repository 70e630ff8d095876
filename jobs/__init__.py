"""The long-running work of the service, composed from settings: training the models (and,
later, indexing a catalog). The CLI runs it in its own process; nothing in `core/` knows how
settings become a store, a recommender and published artefacts."""
