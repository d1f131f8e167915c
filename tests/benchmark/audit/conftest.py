"""Generated labelled sets for the audit: one whose classes follow the camera profile, its control."""

from __future__ import annotations

import pytest

from flickrexif.testing.labelled import labelled_photos

PER_CLASS = 32  # a multiple of the 8 built-in cameras: the control gives every class each camera 4 times


@pytest.fixture(scope="session")
def confounded_set(tmp_path_factory):
    """husky (80% phones) against wolf (80% cameras)."""
    root = tmp_path_factory.mktemp("confounded") / "pets"
    return root, labelled_photos(root, per_class=PER_CLASS, confound=0.8)


@pytest.fixture(scope="session")
def control_set(tmp_path_factory):
    """The same scenes and cameras, every camera as often in each class."""
    root = tmp_path_factory.mktemp("control") / "pets"
    return root, labelled_photos(root, per_class=PER_CLASS, confound=0.0)
