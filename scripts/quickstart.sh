#!/usr/bin/env bash
# Install the project into .venv (created if missing) and run the main job offline: a local Flickr
# stand-in, crawl, download, release, PairCams, trace-bench and its report (scripts/quickstart.py).
# Outputs go to quickstart-out/ (or the folder given as the first argument). A few minutes on a 2-core
# CPU (it prints each step's duration); a rerun in the same folder reuses what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "[bench]"
exec .venv/bin/python scripts/quickstart.py "${1:-quickstart-out}"
