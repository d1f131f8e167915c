"""``flickrexif download``: fetch the originals of kept photos, untouched, verified and hashed.

Flickr's resized sizes are re-encoded with Exif stripped, which adds processing traces, so the
original (``url_o``) is what we want; when an owner does not offer it the large size is taken and
the row records which size it is.  Bytes are written to a temporary file, checked to decode, and
renamed into place, so a killed download never leaves a half file behind a ``done`` row.  Photo
files are static URLs, not API calls: they do not use the API rate budget.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image

from flickrexif.crawl.client import RetryPolicy
from flickrexif.crawl.records import DownloadTarget
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.read import DEFAULT_MAX_PIXELS

ORIGINAL, LARGE = "Original", "Large"


@dataclass(frozen=True)
class DownloadConfig:
    out_dir: Path
    workers: int = 4
    timeout: float = 60.0
    retry: RetryPolicy = RetryPolicy(max_attempts=5)
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class DownloadResult:
    photo_id: str
    status: str  # done, failed, unavailable
    size: str | None = None
    path: str | None = None
    sha256: str | None = None
    nbytes: int | None = None
    error: str | None = None


class TransientDownloadError(Exception):
    pass


def photo_path(out_dir: Path, photo_id: str, extension: str) -> Path:
    """``OUT/ab/abcdef….jpg``: two-character fan-out keeps folders small at millions of files."""
    return out_dir / photo_id[-2:] / f"{photo_id}.{extension}"


def verify_image(path: Path, max_pixels: int) -> None:
    """Decode the whole image: a truncated or corrupt download fails here, not in training."""
    with Image.open(path) as image:
        width, height = image.size
        if width * height > max_pixels:
            raise ValueError(f"{width}x{height} pixels is over the {max_pixels} limit")
        image.load()


def _fetch(session: requests.Session, url: str, target: Path, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``target`` (a temporary name); returns sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    try:
        with session.get(url, stream=True, timeout=timeout) as response:
            if response.status_code == 429 or response.status_code >= 500:
                raise TransientDownloadError(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise PermissionError(f"HTTP {response.status_code}")
            expected = response.headers.get("Content-Length")
            with target.open("wb") as file:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    file.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                file.flush()
                os.fsync(file.fileno())
    except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
        raise TransientDownloadError(type(error).__name__) from None
    if expected is not None and int(expected) != size:
        raise TransientDownloadError(f"got {size} of {expected} bytes")
    return digest.hexdigest(), size


def download_one(
    session: requests.Session, photo: DownloadTarget, config: DownloadConfig, rng: random.Random
) -> DownloadResult:
    """Download one photo with retries; every failure becomes a result, never an exception."""
    photo_id = photo.id
    if photo.url_o:
        url, size_label, extension = photo.url_o, ORIGINAL, (photo.original_format or "jpg")
    elif photo.url_large:
        url, size_label, extension = photo.url_large, LARGE, "jpg"
    else:
        return DownloadResult(photo_id, "unavailable", error="no original or large size offered")
    final = photo_path(config.out_dir, photo_id, extension)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.part")
    try:
        sha256, nbytes = _fetch_with_retries(session, url, temporary, config, rng)
        _verify_or_reject(temporary, config.max_pixels)
        os.replace(temporary, final)
    except _Failed as failure:
        temporary.unlink(missing_ok=True)
        return DownloadResult(photo_id, "failed", size_label, error=str(failure))
    return DownloadResult(photo_id, "done", size_label, str(final.relative_to(config.out_dir)), sha256, nbytes)


class _Failed(Exception):
    """This photo's download failed for now; the message goes on its row."""


def _fetch_with_retries(
    session: requests.Session, url: str, target: Path, config: DownloadConfig, rng: random.Random
) -> tuple[str, int]:
    for attempt in range(1, config.retry.max_attempts + 1):
        try:
            return _fetch(session, url, target, config.timeout)
        except TransientDownloadError as failure:
            if attempt == config.retry.max_attempts:
                raise _Failed(f"{failure} (after {attempt} attempts)") from None
            time.sleep(config.retry.delay(attempt, rng))
        except PermissionError as failure:  # 403/404/410: the file is gone or private
            raise _Failed(str(failure)) from None
        except OSError as failure:  # disk full, unwritable folder: retrying this photo now won't help
            raise _Failed(f"cannot write {target}: {failure}") from None
    raise AssertionError("unreachable")


def _verify_or_reject(path: Path, max_pixels: int) -> None:
    try:
        verify_image(path, max_pixels)
    except Exception as failure:  # noqa: BLE001 - any decoder error means the bytes are unusable
        raise _Failed(f"downloaded file does not decode: {failure}") from None


def download_photos(
    store: CrawlStore, config: DownloadConfig, on_result: Callable[[DownloadResult], None] | None = None
) -> dict[str, int]:
    """Download every kept photo not yet downloaded (failed ones are retried); returns counts."""
    targets = store.photos_to_download()
    counts: dict[str, int] = {}
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=config.workers, pool_maxsize=config.workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    rng = random.Random(0)
    in_flight: set = set()

    def record(done) -> None:
        for future in done:
            result = future.result()
            store.record_download(
                result.photo_id,
                result.status,
                size=result.size,
                path=result.path,
                sha256=result.sha256,
                nbytes=result.nbytes,
                error=result.error,
            )
            counts[result.status] = counts.get(result.status, 0) + 1
            if on_result:
                on_result(result)

    with ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="download") as pool:
        try:
            for target in targets:  # a bounded window of futures: memory stays flat for millions of rows
                if len(in_flight) >= config.workers * 4:
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    record(done)
                in_flight.add(pool.submit(download_one, session, target, config, rng))
            record(wait(in_flight).done)
        except BaseException:
            for future in in_flight:
                future.cancel()
            raise
    return counts
