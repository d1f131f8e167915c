"""Shared fixtures of the FlickrExif dataset tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PAPER_KEYS = {
    "train_ids",
    "val_ids",
    "test_ids",
    "encoded_train_labels",
    "encoded_val_labels",
    "encoded_test_labels",
    "label_encoder_classes",
    "target_attribute",
}


@pytest.fixture(scope="session")
def paper_splits_keys():
    """The keys of the paper's split files (read from them when ../shared/data is there)."""
    shared = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data"))
    path = shared / "paper-splits" / "FlickrExif" / "split_data_target_attribute=Make.json"
    return set(json.loads(path.read_text())) if path.is_file() else PAPER_KEYS
