"""Shared fixtures: where the real sample photos live, and small generated photos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def exif_samples() -> Path:
    """``../shared/data/exif-samples``: real camera files; tests skip when it is absent."""
    path = SHARED_DATA / "exif-samples"
    if not path.is_dir():
        pytest.skip(f"real sample photos not found at {path} (set FLICKREXIF_SHARED_DATA to shared/data)")
    return path


@pytest.fixture(scope="session")
def paper_splits() -> Path:
    """``../shared/data/paper-splits/FlickrExif``: the paper's released split files."""
    path = SHARED_DATA / "paper-splits" / "FlickrExif"
    if not path.is_dir():
        pytest.skip(f"paper split files not found at {path} (set FLICKREXIF_SHARED_DATA to shared/data)")
    return path
