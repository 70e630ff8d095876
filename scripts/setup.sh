#!/usr/bin/env bash
# Create .venv and install musicrec with its pinned dependencies (idempotent: re-runs are
# instant while pyproject.toml is unchanged). Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "musicrec needs Python 3.11"'

if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $("$PYTHON" --version)" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.musicrec-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing musicrec and its dependencies into .venv (a few minutes the first time;" \
         "log: .venv/install.log)" >&2
    if ! { .venv/bin/python -m pip install --upgrade pip &&
           .venv/bin/python -m pip install -e ".[test,eval,onnx]"; } > .venv/install.log 2>&1; then
        tail -40 .venv/install.log >&2
        echo "installation failed: see .venv/install.log" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
# The web app (web/): `npm ci && npm run build` when its sources or lock changed since the last
# build (a stamp over them), with Node.js >= 20 from the machine. Without Node the API still
# runs and `/` says how to build the app; SKIP_WEB=1 skips it on purpose.
web_sources() {
    find web \( -path web/node_modules -o -path web/dist \) -prune -o -type f \
         ! -name .build-stamp ! -name build.log ! -path web/src/api/schema.d.ts -print \
        | LC_ALL=C sort | xargs sha256sum
}
if [ -z "${SKIP_WEB:-}" ]; then
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        echo "Node.js >= 20 and npm are needed to build the web app (web/): install them" \
             "(Debian: apt-get install nodejs npm), or set SKIP_WEB=1 to go on without it" >&2
        exit 1
    fi
    if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
        echo "the web app needs Node.js >= 20; this is $(node --version)" >&2
        exit 1
    fi
    web_stamp=web/.build-stamp
    web_want=$(web_sources | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$web_stamp" 2>/dev/null)" != "$web_want" ] || [ ! -f web/dist/index.html ]; then
        echo "building the web app (npm ci && npm run build in web/; log: web/build.log)" >&2
        if ! (cd web && npm ci --no-audit --no-fund && npm run build) > web/build.log 2>&1; then
            tail -40 web/build.log >&2
            echo "the web app did not build: see web/build.log" >&2
            exit 1
        fi
        echo "$web_want" > "$web_stamp"
    fi
fi

# No model hub is reachable: fail at once instead of hanging on a download attempt.
export HF_HUB_OFFLINE=1
export PATH="$PWD/.venv/bin:$PATH"
