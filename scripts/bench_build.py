#!/usr/bin/env python3
"""Photos/s and peak memory of ``flickrexif build`` on a generated crawl database.

Usage: ``python scripts/bench_build.py [--photos 20000] [--owners 1500] [--attributes Make,Year]
[--no-images] [--work DIR] [--keep]``.

The database is written directly through :class:`flickrexif.crawl.store.CrawlStore` (kept photos with
Exif records, labels from :func:`flickrexif.exif.labels.label_record`, downloads recorded) for a Zipf-like
population of owners who mostly shoot one camera.  Image files are real JPEGs of 150–300 KB
(1280×960, camera Exif with serial numbers and, for phones, GPS, so the metadata scrub does real
work): one file per camera is encoded once and hard-linked for every photo of that camera.  The
build runs in a child process, so the peak RSS printed is the build's own (``ru_maxrss`` of the
child), not the generator's.  The default per-attribute specs (``flickrexif/data/build.json``) are
used, so the build selects, balances and writes what a real build would.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.records import SearchPhoto
from flickrexif.crawl.store import KEPT, CrawlStore
from flickrexif.exif.labels import label_record
from flickrexif.exif.record import ExifRecord

# (Exif make, model, is a phone): enough cameras and phones for every default configuration.
CAMERAS = (
    ("Canon", "Canon EOS 5D Mark II", False), ("Canon", "Canon EOS 40D", False), ("Canon", "Canon EOS 450D", False),
    ("NIKON CORPORATION", "NIKON D750", False), ("NIKON CORPORATION", "NIKON D70", False),
    ("SONY", "ILCE-7M3", False), ("FUJIFILM", "X-T3", False), ("OLYMPUS IMAGING CORP.", "E-M10", False),
    ("Panasonic", "DMC-GH4", False), ("EASTMAN KODAK COMPANY", "KODAK Z740 ZOOM DIGITAL CAMERA", False),
    ("Apple", "iPhone 12", True), ("Apple", "iPhone 11", True), ("Apple", "iPhone 8", True),
    ("samsung", "SM-G991B", True), ("Google", "Pixel 4a", True),
)  # fmt: skip
EXPOSURES = (
    "1/30",
    "1/60",
    "1/100",
    "1/125",
    "1/160",
    "1/200",
    "1/250",
    "1/320",
    "1/400",
    "1/500",
    "1/640",
    "1/800",
    "1/1000",
    "1/1250",
    "1/2000",
    "1/4000",
    "2",
)
APERTURES = (1.8, 2.0, 2.2, 2.8, 3.2, 3.5, 4.0, 4.5, 5.0, 5.6, 6.3, 7.1, 8.0, 9.0, 10.0, 11.0, 16.0)
ISOS = (50, 100, 125, 160, 200, 250, 320, 400, 500, 640, 800, 1000, 1600, 3200, 6400, 12800)
FOCALS = (4.2, 4.3, 5.4, 18.0, 24.0, 28.0, 35.0, 50.0, 55.0, 70.0, 85.0, 105.0, 200.0)
LICENSES = sorted(PERMISSIVE_LICENSES)


def skewed(rng: random.Random, values: tuple) -> object:
    """A value drawn Zipf-like (the first values most often), as camera settings are on Flickr."""
    return rng.choices(values, weights=[1 / (rank + 1) ** 0.7 for rank in range(len(values))])[0]


def camera_jpeg(index: int, make: str, model: str, phone: bool, rng: np.random.Generator) -> bytes:
    """A 1280×960 JPEG of 150–300 KB with the camera's Exif (serial number; GPS for phones)."""
    height, width = 960, 1280
    low = Image.fromarray((rng.random((12, 16, 3)) * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
    noisy = np.asarray(low).astype(np.int16) + rng.normal(0, 4 + index % 3, (height, width, 3)).astype(np.int16)
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = make, model, "bench 1.0"
    sub = exif.get_ifd(0x8769)
    sub[0xA431] = f"SN{index:08d}"  # BodySerialNumber: must not survive the build
    sub[0x829D] = 4.0
    if phone:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 24.0), "E", (2.0, 21.0, 7.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=(85, 90, 92)[index % 3], subsampling=(2, 0, 1)[index % 3], exif=exif)
    return buffer.getvalue()


def generate(folder: Path, photos: int, owners: int, seed: int) -> tuple[Path, Path, int]:
    """Write the crawl database and image files; returns (db, images, total image bytes)."""
    rng = random.Random(seed)
    pixels = np.random.default_rng(seed)
    db, images = folder / "crawl.db", folder / "images"
    bases = images / "_base"
    bases.mkdir(parents=True)
    base_files = []
    for index, (make, model, phone) in enumerate(CAMERAS):
        path = bases / f"camera{index:02d}.jpg"
        path.write_bytes(camera_jpeg(index, make, model, phone, pixels))
        base_files.append((path, hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_size))
    zipf = [1 / (rank + 1) ** 1.05 for rank in range(owners)]
    owner_ids = [f"{10_000_000 + 7919 * i}@N0{i % 8}" for i in range(owners)]
    owner_camera = [rng.randrange(len(CAMERAS)) for _ in range(owners)]
    drawn = rng.choices(range(owners), weights=zipf, k=photos)
    total_bytes = 0
    with CrawlStore(db) as store:
        query = json.dumps(
            {
                "licenses": LICENSES,
                "max_taken": "2025-01-01 00:00:00",
                "min_taken": "2004-01-01 00:00:00",
                "tags": None,
                "text": None,
            },
            sort_keys=True,
        )
        store.add_window(query, "2004-01-01 00:00:00", "2025-01-01 00:00:00")
        window = store.open_windows(query)[0]
        photo_id = 20_000_000_000
        rows = []
        for owner in drawn:
            photo_id += rng.randint(1, 5000)
            camera = owner_camera[owner] if rng.random() < 0.8 else rng.randrange(len(CAMERAS))
            year = 2024 - int(skewed(rng, tuple(range(21))))
            taken = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 12:00:00"
            rows.append((str(photo_id), owner, camera, taken))
        for start in range(0, len(rows), 500):
            page = [SearchPhoto(
                id=pid, owner=owner_ids[owner], owner_name=f"Owner {owner}", title=f"Photo {pid}",
                license=rng.choice(LICENSES), date_taken=taken, date_upload=0, tags="", media="photo",
                original_format="jpg", o_width=1280, o_height=960,
                url_o=f"https://live.staticflickr.com/1/{pid}_x_o.jpg", url_large=f"https://live.staticflickr.com/1/{pid}_x_b.jpg",
            ) for pid, owner, _, taken in rows[start : start + 500]]  # fmt: skip
            store.add_search_page(window, 1, 1, len(page), page, cap=10**9, allowed_licenses=PERMISSIVE_LICENSES)
        for pid, _, camera, taken in rows:
            make, model, phone = CAMERAS[camera]
            record = ExifRecord(
                make=make,
                model=model,
                datetime_original=taken.replace(" ", "T"),
                exposure_time=Fraction(skewed(rng, EXPOSURES)),
                f_number=skewed(rng, APERTURES[:4] if phone else APERTURES),
                iso=skewed(rng, ISOS),
                focal_length_mm=skewed(rng, FOCALS[:3] if phone else FOCALS[3:]),
                flash_fired=rng.random() < 0.3,
                orientation=1,
                width=1280,
                height=960,
            )
            store.record_exif(pid, KEPT, exif=record, labels=label_record(record).values(), max_per_user_month=10**9)
            base, sha256, size = base_files[camera]
            relative = Path(pid[-2:]) / f"{pid}.jpg"
            (images / relative).parent.mkdir(exist_ok=True)
            os.link(base, images / relative)
            store.record_download(pid, "done", size="Original", path=str(relative), sha256=sha256, nbytes=size)
            total_bytes += size
    return db, images, total_bytes


CHILD = """
import json, sys, time
from pathlib import Path
from flickrexif.dataset.builder import BuildConfig, build
args = json.loads(sys.argv[1])
config = BuildConfig(db=Path(args["db"]), images=Path(args["images"]), include_images=args["images_on"],
                     **({{"attributes": tuple(args["attributes"])}} if args["attributes"] else {{}}))
started = time.perf_counter()
result = build(config, Path(args["out"]))
seconds = time.perf_counter() - started
print(json.dumps({{"seconds": seconds, "eligible": result.photos_eligible, "rows": result.rows,
                  "configs": {{c.name: (c.rows if c.skipped is None else c.skipped) for c in result.configs}}}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20_000)
    parser.add_argument("--owners", type=int, default=1_500)
    parser.add_argument("--attributes", default="", help="comma-separated configurations (default: all)")
    parser.add_argument("--no-images", action="store_true", help="build the URL-only variant")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the generated database and the build")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="bench_build-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        db, images, image_bytes = generate(work / "input", args.photos, args.owners, args.seed)
        print(
            f"generated {args.photos} kept photos from {args.owners} owners "
            f"({image_bytes / 2**30:.2f} GiB of JPEG, {image_bytes / args.photos / 1024:.0f} KB each) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        payload = json.dumps(
            {
                "db": str(db),
                "images": str(images),
                "out": str(work / "FlickrExif"),
                "images_on": not args.no_images,
                "attributes": [a for a in args.attributes.split(",") if a],
            }
        )
        child = subprocess.run([sys.executable, "-c", CHILD.format(), payload], capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"build failed:\n{child.stderr[-4000:]}")
        stats = json.loads(child.stdout.strip().splitlines()[-1])
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        output = sum(p.stat().st_size for p in (work / "FlickrExif").rglob("*") if p.is_file())
        seconds = stats["seconds"]
        print(f"configurations: {stats['configs']}")
        print(
            f"build: {stats['eligible']} eligible photos, {stats['rows']} rows written "
            f"({output / 2**30:.2f} GiB of Parquet) in {seconds:.1f} s"
        )
        print(
            f"photos/s: {stats['eligible'] / seconds:.0f}   rows/s: {stats['rows'] / seconds:.0f}   "
            f"MB/s written: {output / 1e6 / seconds:.0f}"
        )
        print(f"peak RSS of the build process: {peak:.0f} MiB (target < 1024 MiB)")
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
