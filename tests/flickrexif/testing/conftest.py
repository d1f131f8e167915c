"""Fixtures shared by the Flickr stand-in's tests: one generated photo population."""

from __future__ import annotations

import pytest

from flickrexif.testing.photos import generate_photos


@pytest.fixture(scope="session")
def population():
    """2,000 generated photos; made once, read by the generation, rendering and server tests."""
    return generate_photos(2000, seed=3)
