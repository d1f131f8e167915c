"""A stand-in serving a few photos and a crawl database that keeps them all, for download and network tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from flickrexif.crawl.client import FlickrClient, RetryPolicy
from flickrexif.crawl.crawler import CallCounter, CrawlConfig, Crawler
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing import FlickrStandin, StandinPhoto, generate_photos

KEY = FlickrCredentials("test-key", "test-secret")
CLEAN = dict(
    hidden_exif_rate=0, missing_exif_rate=0, nonpermissive_rate=0, unsafe_rate=0, video_rate=0, no_original_rate=0
)


@dataclass
class Served:
    standin: FlickrStandin
    db: Path
    photos: list[StandinPhoto]

    def env(self) -> dict[str, str]:
        return {"FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": "s", "FLICKR_API_URL": self.standin.api_url}

    def crawl(self, db: Path) -> None:
        crawl(self.standin, db)


def crawl(standin: FlickrStandin, db: Path) -> None:
    client = FlickrClient(KEY, api_url=standin.api_url, retry=RetryPolicy(max_attempts=3, base_delay=0.001))
    config = CrawlConfig(min_taken=datetime(2009, 1, 1), max_taken=datetime(2025, 1, 1), max_per_user_month=100)
    with CrawlStore(db) as store:
        Crawler(store, client, config, CallCounter()).run()


@pytest.fixture
def served(tmp_path):
    """Six photos with originals, all kept in ``tmp_path/c.db``; the stand-in serving them."""
    photos = generate_photos(6, seed=3, owners=2, **CLEAN)
    with FlickrStandin(photos) as standin:
        crawl(standin, tmp_path / "c.db")
        yield Served(standin, tmp_path / "c.db", photos)
