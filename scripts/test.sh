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

ruff check .
ruff format --check .
python -m pytest -q -ra "$@"
