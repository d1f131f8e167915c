"""A loopback stand-in for the Flickr REST API and its photo file server.

``python -m flickrexif.testing --photos 1000`` serves a generated population on 127.0.0.1 by hand,
in the foreground until interrupted: it prints the API URL, then serves.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from flickrexif.testing.flickr_server import FlickrStandin
from flickrexif.testing.photos import generate_photos
from flickrexif.testing.render import DEFAULT_PHOTO_SIZE

__all__ = ["main"]

LOG = logging.getLogger(__name__)


def _size_argument(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> None:
    """Serve a generated population in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m flickrexif.testing", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="number of generated photos")
    parser.add_argument("--samples", type=Path, default=None, help="folder of real JPEG/HEIC files to take Exif from")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a transient fault per request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default="test-key", help="the API key the server accepts")
    parser.add_argument("--max-results", type=int, default=4000, help="search results reachable per query")
    parser.add_argument(
        "--size",
        type=_size_argument,
        default=DEFAULT_PHOTO_SIZE,
        metavar="WxH",
        help="pixel size of the generated photos (landscape; some are turned to portrait)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = generate_photos(args.photos, seed=args.seed, samples=args.samples, size=args.size)
    standin = FlickrStandin(
        photos,
        api_keys={args.api_key},
        latency_s=args.latency,
        fault_rate=args.fault_rate,
        seed=args.seed,
        max_results=args.max_results,
        port=args.port,
    )
    print(standin.api_url, flush=True)
    LOG.info("serving %d photos with API key %r; Ctrl-C stops", len(photos), args.api_key)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a plain kill also closes cleanly
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.close()
        LOG.info("calls: %s; faults: %s", dict(standin.calls), dict(standin.faults))


if __name__ == "__main__":
    main()
