#!/usr/bin/env bash
# Regenerate the locks from pyproject.toml, pinned with hashes:
#   requirements.lock          every package scripts/setup.sh installs (the dependencies, all
#                              extras, the test, dev, lock and build groups);
#   requirements-runtime.lock  what the Docker image installs (no evaluation, no dev tools),
#                              at the same versions (constrained by requirements.lock).
#
# Deterministic and cheap (seconds with uv's cache): the target is fixed (CPython 3.11 on
# x86_64 Linux, manylinux_2_28: the platform of this project's machines and its Docker image,
# whatever runs this script), and the pins already in requirements.lock are kept unless
# pyproject.toml no longer admits them, so a re-run after adding a dependency changes only what
# that dependency brings. To move everything to the newest releases pyproject.toml allows:
# `bash scripts/lock.sh --upgrade` (or `--upgrade-package NAME`).
#
# Index: uv's default, PyPI only (so every machine writes the same file). Each pin carries
# the hashes of all of that release's files; a wheel a machine keeps on disk (torch, torchvision and the nvidia-*
# libraries under pip's find-links/extra-index-url here) is PyPI's own file, so its hash is
# there and `pip install --require-hashes` takes it from disk (pip prefers local files) instead
# of downloading several GB. Extra arguments go to `uv pip compile`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV=${UV:-$(command -v uv || echo .venv/bin/uv)}

compile() {
    "$UV" pip compile pyproject.toml \
        --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
        --generate-hashes \
        --no-emit-package musicrec --custom-compile-command "bash scripts/lock.sh" --quiet "$@"
}
compile --all-extras --group test --group dev --group lock --group build \
    --output-file requirements.lock "$@"
compile --extra clip --extra spotify --extra train --extra onnx --group build \
    --constraint requirements.lock --output-file requirements-runtime.lock "$@"
for lock in requirements.lock requirements-runtime.lock; do
    echo "$lock: $(grep -c '^[a-z0-9]' "$lock") packages" >&2
done
