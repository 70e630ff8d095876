"""The recommendation pipeline, free of HTTP: the API and the evaluation run the same code."""
