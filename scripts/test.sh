#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite: install, lint, run every test
# (slow ones included). Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# tests/test_ui.py drives Debian's Chromium (Playwright never downloads a browser here).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing Debian's chromium for the web page test" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The interaction-store contract and the two-process API test run a throwaway cluster from
# Debian's PostgreSQL binaries (initdb + pg_ctl into a temp dir); no service is started.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
    echo "installing Debian's postgresql for the database tests" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

ruff check .
ruff format --check .
python -m pytest -q -ra "$@"
