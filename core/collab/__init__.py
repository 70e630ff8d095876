"""The collaborative side: LightFM on user–track interactions with track metadata features (cold
start), its versioned artefact, and the holder that hot-reloads it for serving."""
