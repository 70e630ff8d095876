"""The REST API: FastAPI over the store, the encoders and (later) the collaborative model."""
