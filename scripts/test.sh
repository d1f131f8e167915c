#!/usr/bin/env bash
# Install the project with its test extras into .venv (created if missing) and run the test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k labels`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
exec .venv/bin/python -m pytest "$@"
