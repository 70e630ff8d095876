#!/usr/bin/env bash
# One command from a fresh clone to a passing test suite: install, lint, run every test
# (slow ones included). Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# Debian packages some tests drive (never a download of their own): Chromium for the page
# (tests/test_ui.py, through Playwright), PostgreSQL's binaries for the interaction-store
# contract and the two-process API test (a throwaway cluster in a temp dir; no service is
# started), Redis for the rate limiter shared by two API processes (a throwaway server on a free
# port, tests/fixtures/redis.py), docker-compose to validate the compose files without an engine
# (tests/deploy/).
need() {  # need PACKAGE PROBE-COMMAND...: install PACKAGE when the probe fails (as root)
    local package=$1; shift
    if ! "$@" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing Debian's $package for the tests" >&2
        [ -n "${apt_updated:-}" ] || { apt-get update -qq && apt_updated=1; }
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    fi
}
need chromium test -x /usr/bin/chromium
need postgresql bash -c 'ls /usr/lib/postgresql/*/bin/initdb'
need docker-compose command -v docker-compose
need redis-server command -v redis-server

ruff check .
ruff format --check .
deptry .  # every import declared, every declared package used ([tool.deptry])
mypy  # strict on core/store, core/interactions, core/recommend; the rest checked ([tool.mypy])
if [ -z "${SKIP_WEB:-}" ]; then  # the web app's types and lint (setup.sh installed it)
    (cd web && npm run --silent typecheck && npm run --silent lint)
fi
python -m pytest -q -ra "$@"
