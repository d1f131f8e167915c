#!/usr/bin/env python3
"""The offline main job: what `flickrexif` does, end to end, without a Flickr key.

Starts the loopback Flickr stand-in with generated photos (Exif from built-in camera profiles,
plus the real sample photos in ../shared/data/exif-samples when present), then runs the same
commands a researcher runs against Flickr: `flickrexif crawl`, `download`, `status`, `export`,
and `flickrexif exif` on the downloaded files.  Usage: scripts/quickstart.py [OUT_DIR]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flickrexif.standin import FlickrStandin, generate_photos

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data")) / "exif-samples"


def run(*args: str, env: dict[str, str], stdout=None) -> None:
    print(f"\n$ flickrexif {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", "flickrexif", *args], env=env, check=True, stdout=stdout)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart-out").resolve()
    out.mkdir(parents=True, exist_ok=True)
    db, images = out / "crawl.db", out / "images"
    samples = SAMPLES if SAMPLES.is_dir() else None
    photos = generate_photos(400, seed=0, samples=samples)
    print(f"Local Flickr stand-in: {len(photos)} generated photos "
          f"(Exif from {'the real sample files in ' + str(samples) if samples else 'built-in camera profiles'})")
    with FlickrStandin(photos, latency_s=0.01, fault_rate=0.02) as standin:
        env = {**os.environ, "FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": "quickstart",
               "FLICKR_API_URL": standin.api_url}
        common = ["--db", str(db)]
        run("crawl", *common, "--min-taken-date", "2009-01-01", "--max-taken-date", "2025-01-01",
            "--max-per-user-month", "5", "--rate", "36000", env=env)
        run("download", *common, "--out", str(images), env=env)
    run("status", *common, env=env)
    with (out / "photos.jsonl").open("w") as jsonl:
        run("export", *common, env=env, stdout=jsonl)
    with (out / "exif.csv").open("w") as csv_file:
        run("exif", str(images), "--format", "csv", env=env, stdout=csv_file)
    print(f"\nDone. Crawl database: {db}\nPhotos: {images}\nExport: {out / 'photos.jsonl'}\n"
          f"Exif and labels of the downloaded files: {out / 'exif.csv'}")


if __name__ == "__main__":
    main()
