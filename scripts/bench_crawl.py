#!/usr/bin/env python3
"""Crawl figures against the loopback Flickr stand-in (latency and transient faults on).

Prints, for a crawl of N photos (default 6,000) with 50 ms latency and 5% transient faults:
API calls per stored photo (all calls counted, retries included), getExif calls spent on photos
that were then dropped (capped or filtered), photos/s; then, with ``--rate`` below what the
workers could do, the share of the allowed call rate actually used.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from pathlib import Path

from flickrexif.crawl import store as states
from flickrexif.crawl.client import FlickrClient, RetryPolicy
from flickrexif.crawl.crawler import CallCounter, CrawlConfig, Crawler
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.ratelimit import RateLimiter
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing import FlickrStandin, generate_photos

RETRY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=1.0)


def crawl(standin: FlickrStandin, db: Path, *, workers: int, rate: float | None, max_photos: int | None = None):
    calls = CallCounter()
    client = FlickrClient(
        FlickrCredentials("test-key", "bench"),
        api_url=standin.api_url,
        on_call=calls,
        retry=RETRY,
        rate_limiter=RateLimiter(rate) if rate else None,
        pool_size=workers,
    )
    config = CrawlConfig(
        min_taken=datetime(2009, 1, 1),
        max_taken=datetime(2025, 1, 1),
        workers=workers,
        max_per_user_month=10,
        max_photos=max_photos,
    )
    with CrawlStore(db) as store:
        start = time.perf_counter()
        Crawler(store, client, config, calls).run()
        seconds = time.perf_counter() - start
        statuses = store.count_by("status")
        calls_made = sum(sum(outcomes.values()) for outcomes in store.api_calls().values())
        dropped = {photo.id for photo in store.photos() if photo.status in (states.CAPPED, states.FILTERED)}
    return seconds, statuses, calls_made, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=6000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--faults", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--rate", type=float, default=180_000, help="calls/hour for the pacing run (default 50/s)")
    parser.add_argument("--rate-photos", type=int, default=1500, help="photos kept in the pacing run")
    args = parser.parse_args()

    # Most photos pass the filters: many owners (few hit the cap), little hidden Exif.
    photos = generate_photos(
        args.photos,
        seed=0,
        owners=args.photos // 6,
        hidden_exif_rate=0.01,
        missing_exif_rate=0.01,
        nonpermissive_rate=0.05,
        unsafe_rate=0.01,
        video_rate=0.005,
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        FlickrStandin(photos, latency_s=args.latency, fault_rate=args.faults, seed=1, retry_after="0") as standin,
    ):
        seconds, statuses, calls_made, dropped = crawl(standin, Path(tmp) / "a.db", workers=args.workers, rate=None)
        kept = statuses.get(states.KEPT, 0)
        with_outcome = sum(n for s, n in statuses.items() if s not in (states.CAPPED, states.FILTERED, states.PENDING))
        wasted = sum(standin.exif_requests[i] for i in dropped)
        print(
            f"{args.photos} photos served, {args.latency * 1000:.0f} ms latency, {args.faults:.0%} transient faults, "
            f"{args.workers} workers, no rate limit"
        )
        print(f"  photos by state: {statuses}  (faults injected: {sum(standin.faults.values())})")
        print(f"  API calls: {calls_made} counted by the crawler, {sum(standin.calls.values())} received by the server")
        print(
            f"  API calls per stored photo (getExif answered): {calls_made / with_outcome:.4f}   "
            f"(floor with {args.faults:.0%} faults: {1 / (1 - args.faults):.4f})"
        )
        print(f"  API calls per kept photo:                      {calls_made / kept:.4f}")
        print(f"  getExif calls for photos then dropped:         {wasted}")
        print(f"  photos/s (getExif outcomes):                   {with_outcome / seconds:.1f}  ({seconds:.1f} s)")

        standin.calls.clear()
        seconds, statuses, calls_made, _ = crawl(
            standin, Path(tmp) / "b.db", workers=args.workers, rate=args.rate, max_photos=args.rate_photos
        )
        allowed = args.rate / 3600 * seconds
        print(f"pacing run: --rate {args.rate:.0f}/h ({args.rate / 3600:.0f}/s), {args.workers} workers")
        print(
            f"  {calls_made} calls in {seconds:.1f} s = {calls_made / seconds:.1f}/s; "
            f"share of the allowed rate used: {calls_made / allowed:.1%}"
        )


if __name__ == "__main__":
    main()
