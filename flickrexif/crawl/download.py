"""``flickrexif download``: fetch the originals of kept photos, untouched, verified and hashed.

Flickr's resized sizes are re-encoded with Exif stripped, which adds processing traces, so the
original (``url_o``) is what we want; when an owner does not offer it the large size is taken and
the row records which size it is.  Bytes are written to a temporary file, checked to decode, and
renamed into place, so a killed download never leaves a half file behind a ``done`` row.  Photo
files are static URLs, not API calls: they do not use the API rate budget.

What a file server sends is untrusted: each attempt has a total deadline (a trickling server is
cut off), a ``Content-Length`` that is not a number is ignored, a gzip- or deflate-encoded file is
decoded (it is still the original's bytes) in bounded steps and no file may grow past
``max_bytes``, and a ``Retry-After`` is honoured as in the API client.  Every failure is recorded on
its photo; none ends the run.  Ctrl-C stops the workers within a fraction of a second.
"""

from __future__ import annotations

import hashlib
import os
import random
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3
from PIL import Image

from flickrexif.crawl.http import DeadlineAdapter, StopFlag, Stopped, deadline
from flickrexif.crawl.records import DownloadTarget
from flickrexif.crawl.retry import GaveUp, Pause, RetryLater, RetryPolicy, retry_after_seconds
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.read import DEFAULT_MAX_PIXELS

ORIGINAL, LARGE = "Original", "Large"
CHUNK = 1 << 16
DEFAULT_MAX_BYTES = 200 * 1024 * 1024  # larger than any photo Flickr keeps as an original


@dataclass(frozen=True)
class DownloadConfig:
    out_dir: Path
    workers: int = 4
    timeout: float = 60.0  # seconds without a byte (per socket read)
    deadline: float = 300.0  # seconds for one whole attempt, however the bytes come
    retry: RetryPolicy = RetryPolicy(max_attempts=5)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES  # a file larger than this (sent or decoded) fails


@dataclass(frozen=True)
class DownloadResult:
    photo_id: str
    status: str  # done, failed, unavailable
    size: str | None = None
    path: str | None = None
    sha256: str | None = None
    nbytes: int | None = None
    error: str | None = None


class TransientDownloadError(RetryLater):
    """This attempt failed in a way another attempt may not (5xx, 429, cut transfer, deadline)."""


class _Failed(Exception):
    """This photo's download failed for now; the message goes on its row."""


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


def content_length(headers: requests.structures.CaseInsensitiveDict) -> int | None:
    """The declared body length, or ``None`` when absent or not a plain number (then it is not checked)."""
    text = (headers.get("Content-Length") or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


class _Decoder:
    """Undo a ``Content-Encoding`` in steps of at most :data:`CHUNK` bytes (a zip bomb never sits in memory)."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = (encoding or "identity").strip().lower()
        if self.encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
            raise _Failed(f"unsupported Content-Encoding {encoding!r}")
        self._inflater = self._new() if self.encoding not in ("identity", "") else None

    def _new(self) -> zlib._Decompress:
        # gzip, or zlib-wrapped deflate (what "deflate" means in HTTP); 32+ would also accept the other
        return zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in self.encoding else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inflater is None:
            yield data
            return
        try:
            while data:
                if self._inflater.eof:  # a further gzip member
                    data, self._inflater = self._inflater.unused_data + data, self._new()
                yield self._inflater.decompress(data, CHUNK)
                data = self._inflater.unconsumed_tail
        except zlib.error as error:
            raise _Failed(f"the {self.encoding}-encoded body does not decode: {error}") from None

    def finish(self) -> None:
        if self._inflater is not None and not self._inflater.eof:
            raise TransientDownloadError(f"the {self.encoding}-encoded body ends early")


def _fetch(
    session: requests.Session, url: str, target: Path, config: DownloadConfig, stop: StopFlag
) -> tuple[str, int]:
    """One attempt: stream ``url`` into ``target`` (a temporary name); returns sha256 and size."""
    digest, size, received = hashlib.sha256(), 0, 0
    too_large = f"larger than the {config.max_bytes} bytes allowed"
    try:
        with deadline(config.deadline, stop):
            timeout = (min(config.timeout, config.deadline), config.timeout)
            headers = {"Accept-Encoding": "gzip, deflate"}  # codings decoded here, in bounded steps
            with session.get(url, stream=True, timeout=timeout, headers=headers) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    asked = retry_after_seconds(response.headers.get("Retry-After"))
                    raise TransientDownloadError(f"HTTP {response.status_code}", asked)
                if response.status_code != 200:  # 403/404/410: the file is gone or private
                    raise _Failed(f"HTTP {response.status_code}")
                expected = content_length(response.headers)
                if expected is not None and expected > config.max_bytes:
                    raise _Failed(f"{too_large} ({expected} declared)")
                decoder = _Decoder(response.headers.get("Content-Encoding"))
                with target.open("wb") as file:
                    for raw in response.raw.stream(CHUNK, decode_content=False):
                        received += len(raw)
                        for chunk in decoder.feed(raw):
                            size += len(chunk)
                            if size > config.max_bytes or received > config.max_bytes:
                                raise _Failed(too_large)
                            file.write(chunk)
                            digest.update(chunk)
                    decoder.finish()
                    file.flush()
                    os.fsync(file.fileno())
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise TransientDownloadError(type(error).__name__) from None
    except OSError as error:  # disk full, unwritable folder: retrying this photo now won't help
        raise _Failed(f"cannot write {target}: {error}") from None
    if expected is not None and expected != received:
        raise TransientDownloadError(f"got {received} of {expected} bytes")
    return digest.hexdigest(), size


def download_one(
    session: requests.Session,
    photo: DownloadTarget,
    config: DownloadConfig,
    rng: random.Random,
    stop: StopFlag | None = None,
    pause: Pause | None = None,
) -> DownloadResult:
    """Download one photo with retries; every failure becomes a result, never an exception."""
    stop = stop or StopFlag()
    photo_id = photo.id
    if photo.url_o:
        url, size_label, extension = photo.url_o, ORIGINAL, (photo.original_format or "jpg")
    elif photo.url_large:
        url, size_label, extension = photo.url_large, LARGE, "jpg"
    else:
        return DownloadResult(photo_id, "unavailable", error="no original or large size offered")
    final = photo_path(config.out_dir, photo_id, extension)
    temporary = final.with_name(f".{final.name}.part")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        sha256, nbytes = config.retry.run(
            lambda: _fetch(session, url, temporary, config, stop), rng=rng, stop=stop, pause=pause
        )
        _verify_or_reject(temporary, config.max_pixels)
        os.replace(temporary, final)
    except GaveUp as failure:
        error = f"{failure.last} (after {failure.attempts} attempts)" if failure.exhausted else failure.reason
        return _failed(temporary, photo_id, size_label, error)
    except _Failed as failure:
        return _failed(temporary, photo_id, size_label, str(failure))
    except Stopped:
        return _failed(temporary, photo_id, size_label, "stopped")
    except Exception as failure:  # noqa: BLE001 - one photo's surprise must not end the run
        return _failed(temporary, photo_id, size_label, f"{type(failure).__name__}: {failure}"[:2000])
    return DownloadResult(photo_id, "done", size_label, str(final.relative_to(config.out_dir)), sha256, nbytes)


def _failed(temporary: Path, photo_id: str, size_label: str, error: str) -> DownloadResult:
    try:
        temporary.unlink(missing_ok=True)
    except OSError:
        pass
    return DownloadResult(photo_id, "failed", size_label, error=error)


def _verify_or_reject(path: Path, max_pixels: int) -> None:
    try:
        verify_image(path, max_pixels)
    except Exception as failure:  # noqa: BLE001 - any decoder error means the bytes are unusable
        raise _Failed(f"downloaded file does not decode: {failure}") from None


def download_photos(
    store: CrawlStore, config: DownloadConfig, on_result: Callable[[DownloadResult], None] | None = None
) -> dict[str, int]:
    """Download every kept photo not yet downloaded (failed ones are retried); returns counts.

    On Ctrl-C (or any error) the workers are stopped, their half files removed, and the
    exception goes on; every photo finished before it is recorded.
    """
    targets = store.photos_to_download()
    counts: dict[str, int] = {}
    session = requests.Session()
    adapter = DeadlineAdapter(pool_connections=config.workers, pool_maxsize=config.workers)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    rng = random.Random(0)
    stop, pause = StopFlag(on_interrupt=True), Pause()
    in_flight: set[Future] = set()

    def record(timeout: float) -> None:
        nonlocal in_flight
        done, in_flight = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
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

    pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="download")
    try:
        for target in targets:  # a bounded window of futures: memory stays flat for millions of rows
            while len(in_flight) >= config.workers * 4:
                record(timeout=0.5)
            in_flight.add(pool.submit(download_one, session, target, config, rng, stop, pause))
        while in_flight:
            record(timeout=0.5)
    except BaseException:
        stop.set()  # workers end their transfers and waits now; their results are not recorded
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        session.close()
    return counts
