#!/usr/bin/env bash
# Install the project into .venv (created if missing) and run the main job offline:
# a local Flickr stand-in, a crawl with caps, downloads, status, and Exif labels of the photos.
# Outputs go to quickstart-out/ (or the folder given as the first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/python scripts/quickstart.py "${1:-quickstart-out}"
