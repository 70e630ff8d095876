#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite: install, lint, run every test
# (slow ones included). Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ruff check .
ruff format --check .
python -m pytest -q -ra "$@"
