#!/usr/bin/env bash
# Install the project with its test extras into .venv (created if missing) and run the test suite.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k labels` or `scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[test]"
exec .venv/bin/python -m pytest "$@"
