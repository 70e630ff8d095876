"""`musicrec`, the command line: it composes `indexer/` (ingestion), `jobs/` (index and train
from settings), `core/` and `evaluation/`; nothing imports it."""
