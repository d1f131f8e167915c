"""Shared FlickrExif fixtures: a crawled and downloaded database made by the real commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flickrexif.cli.app import app
from flickrexif.dataset.split import SplitSpec
from flickrexif.exif.labels import ATTRIBUTES
from flickrexif.testing import FlickrStandin, StandinPhoto, generate_photos


@dataclass(frozen=True)
class CrawledDB:
    """A crawl database whose kept photos are downloaded into ``images``."""

    db: Path
    images: Path
    photos: tuple[StandinPhoto, ...]


def crawl_and_download(folder: Path, photos: list[StandinPhoto]) -> CrawledDB:
    """Run ``flickrexif crawl`` and ``download`` against a stand-in serving ``photos``."""
    runner = CliRunner()
    db, images = folder / "crawl.db", folder / "images"
    with FlickrStandin(photos, max_results=150) as standin:
        env = {"FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": "anything", "FLICKR_API_URL": standin.api_url}
        crawl = runner.invoke(app, [
            "crawl", "--db", str(db), "--min-taken-date", "2009-01-01", "--max-taken-date", "2025-01-01",
            "--max-per-user-month", "5", "--workers", "4", "--rate", "1000000", "--result-cap", "150",
        ], env=env)  # fmt: skip
        assert crawl.exit_code == 0, crawl.output
        download = runner.invoke(app, ["download", "--db", str(db), "--out", str(images)], env=env)
        assert download.exit_code == 0, download.output
    return CrawledDB(db, images, tuple(photos))


@pytest.fixture(scope="session")
def crawled_db(tmp_path_factory) -> CrawledDB:
    """~600 generated photos from 50 owners, crawled and downloaded (about 350 kept)."""
    return crawl_and_download(tmp_path_factory.mktemp("crawled"), generate_photos(600, seed=7, owners=50))


SMALL_SPEC = SplitSpec(top_k=6, min_photos=15, validation_per_class=3, test_per_class=4)


@pytest.fixture(scope="session")
def small_specs() -> dict[str, SplitSpec]:
    """Split specs every attribute of ``crawled_db`` can satisfy (the defaults need thousands of photos)."""
    return dict.fromkeys(ATTRIBUTES, SMALL_SPEC)
