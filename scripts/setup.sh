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
# No model hub is reachable: fail at once instead of hanging on a download attempt.
export HF_HUB_OFFLINE=1
export PATH="$PWD/.venv/bin:$PATH"
