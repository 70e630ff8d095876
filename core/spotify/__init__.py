"""Spotify Web API metadata (spotipy): retries, rate limits and an on-disk cache."""
