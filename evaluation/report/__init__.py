"""The report of a run: numbers (stats), readings (analysis), figures, Markdown and JSON."""
