"""Evaluation protocols: each returns per-query results (evaluation.results), no prose."""
