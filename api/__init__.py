"""The REST API: FastAPI over the recommender (the store, the encoders, the candidate sources,
the LightFM model and the learned ranker), the interaction database and Spotify."""
