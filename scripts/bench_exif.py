#!/usr/bin/env python3
"""Files/s of ``flickrexif.exif.read_exif`` vs Pillow's ``Image.open(...).getexif()``.

Usage: ``python scripts/bench_exif.py FOLDER [--repeat N]``.  Both read the same image files
(recursively), from the page cache after one warm-up pass.  Also checks that reading Exif never
decodes pixels by counting calls to Pillow's ``ImageFile.load``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from PIL import Image, ImageFile
from pillow_heif.as_plugin import _LibHeifImageFile

from flickrexif.exif.read import ExifReadError, read_exif
from flickrexif.exif.scan import iter_photo_paths


def pillow_getexif(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as image:
                image.getexif()
        except Exception:  # noqa: BLE001 - same files, same failures: we time, not judge
            pass


def pillow_getexif_with_subifd(path: Path) -> None:
    """What our record needs from Pillow at least: IFD0 plus the Exif sub-IFD (exposure etc.)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as image:
                image.getexif().get_ifd(0x8769)
        except Exception:  # noqa: BLE001
            pass


def ours(path: Path) -> None:
    try:
        read_exif(path)
    except ExifReadError:
        pass


@contextmanager
def count_pixel_decodes():
    """Count ``load()`` calls (the only way Pillow and pillow-heif decode pixels)."""
    counter = [0]
    classes = [ImageFile.ImageFile, _LibHeifImageFile]
    originals = {cls: cls.load for cls in classes}

    def counting(original):
        def load(self):
            counter[0] += 1
            return original(self)

        return load

    for cls in classes:
        cls.load = counting(originals[cls])
    try:
        yield counter
    finally:
        for cls, original in originals.items():
            cls.load = original


def files_per_second(function, files: list[Path], repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        for path in files:
            function(path)
    return repeat * len(files) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--repeat", type=int, default=20, help="passes over the files (default 20)")
    args = parser.parse_args()
    files = list(iter_photo_paths([args.folder]))
    if not files:
        parser.error(f"no image files under {args.folder}")

    for path in files:  # warm-up: page cache, plugin imports
        ours(path)
        pillow_getexif(path)
        pillow_getexif_with_subifd(path)
    with count_pixel_decodes() as decodes:
        for path in files:
            ours(path)

    megabytes = sum(p.stat().st_size for p in files) / 1e6
    print(f"{len(files)} files, {megabytes:.1f} MB, {args.repeat} passes each")
    print(
        f"flickrexif.exif.read_exif      : {files_per_second(ours, files, args.repeat):8.0f} files/s  (Exif + JPEG quality/subsampling)"
    )
    print(
        f"PIL Image.open(...).getexif()  : {files_per_second(pillow_getexif, files, args.repeat):8.0f} files/s  (Exif only)"
    )
    print(
        f"PIL getexif() + Exif sub-IFD   : {files_per_second(pillow_getexif_with_subifd, files, args.repeat):8.0f} files/s  (the same tags we read)"
    )
    print(f"pixel decodes by read_exif     : {decodes[0]}")


if __name__ == "__main__":
    main()
