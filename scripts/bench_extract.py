#!/usr/bin/env python3
"""Images/s per core of trace-bench's input pipeline: decode, processing classes, eval transform.

Usage: ``python scripts/bench_extract.py [--n 200] [--size 1024x768] [--crop 224] [--quick]``.

Generates photo-like JPEGs (gradients, shapes, sensor-like noise; q90 4:2:0) in a temporary folder,
then times with one torch thread in one process:

(a) decode + preprocess (the unprocessed and masked acquisition inputs);
(b) decode + every processing class of each family + preprocess, either decoding each source once
    and making all its variants from it (``process_all``) or decoding it again for every variant
    (``process``). Rows per family charge the shared decode to each family; the "all" row decodes
    once for all 16 variants, as the extraction does when several families are requested.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import PIL
import torch
from PIL import Image

from benchmark.imaging.preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, Preprocess
from benchmark.imaging.processing import FAMILIES, open_rgb, process, process_all


def make_photos(folder: Path, count: int, width: int, height: int, seed: int = 0) -> list[Path]:
    """Smooth gradients and blobs plus noise, so JPEG sizes and decode costs resemble photos."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    paths = []
    for index in range(count):
        angle, freq = rng.uniform(0, np.pi), rng.uniform(0.005, 0.03)
        phase = rng.uniform(0, 2 * np.pi, 3).astype(np.float32)
        ramp = (x * np.cos(angle) + y * np.sin(angle)) / max(width, height)
        channels = [127 + 90 * np.sin(freq * (x + 1.3 * y) + p) * ramp + 40 * ramp for p in phase]
        pixels = np.stack(channels, axis=-1)
        for _ in range(6):
            top, left = rng.integers(0, height - height // 4), rng.integers(0, width - width // 4)
            pixels[top : top + height // 5, left : left + width // 5] = rng.uniform(0, 255, 3)
        pixels += rng.normal(0, 6, pixels.shape).astype(np.float32)
        path = folder / f"{index:05d}.jpg"
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB").save(path, quality=90, subsampling=2)
        paths.append(path)
    return paths


def time_preprocess_only(paths: list[Path], prep: Preprocess) -> float:
    start = time.perf_counter()
    for path in paths:
        prep(open_rgb(path))
    return time.perf_counter() - start


def time_decode_once(paths: list[Path], prep: Preprocess) -> tuple[float, dict[str, float]]:
    """Total decode seconds and processing+preprocess seconds per family, one decode per source."""
    decode, per_family = 0.0, defaultdict(float)
    for path in paths:
        start = time.perf_counter()
        source = open_rgb(path)
        decode += time.perf_counter() - start
        for family in FAMILIES:
            start = time.perf_counter()
            for variant in process_all(source, family, rng_key=(0, path.stem)).values():
                prep(variant)
            per_family[family] += time.perf_counter() - start
    return decode, dict(per_family)


def time_decode_per_variant(paths: list[Path], prep: Preprocess) -> dict[str, float]:
    per_family = defaultdict(float)
    for path in paths:
        for family, classes in FAMILIES.items():
            start = time.perf_counter()
            for name in classes:
                prep(process(open_rgb(path), family, name, rng_key=(0, path.stem)))
            per_family[family] += time.perf_counter() - start
    return dict(per_family)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=None, help="number of generated images (default 200; 20 with --quick)")
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of the generated images")
    parser.add_argument("--crop", type=int, default=224, help="encoder crop size")
    parser.add_argument("--quick", action="store_true", help="20 images: a smoke run")
    args = parser.parse_args()
    count = args.n or (20 if args.quick else 200)
    width, height = (int(v) for v in args.size.lower().split("x"))

    torch.set_num_threads(1)
    prep = Preprocess(args.crop, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, interpolation="bicubic")
    variants = sum(len(classes) for classes in FAMILIES.values())
    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(Path(folder), count, width, height)
        time_preprocess_only(paths[:3], prep)  # warm-up: imports, allocator, page cache
        only = time_preprocess_only(paths, prep)
        decode, once = time_decode_once(paths, prep)
        each = time_decode_per_variant(paths, prep)

    print(
        f"trace-bench input pipeline, 1 torch thread, 1 process: {count} JPEGs {width}x{height} q90, "
        f"crop {args.crop} bicubic; Python {platform.python_version()}, Pillow {PIL.__version__}, torch {torch.__version__}"
    )
    print(f"(a) decode + preprocess: {count / only:.1f} images/s ({1000 * only / count:.1f} ms/image)")
    print(f"    decode alone: {count / decode:.1f} images/s ({1000 * decode / count:.1f} ms/image)")
    print("(b) decode + process + preprocess")
    header = f"    {'family':<14}{'variants':>9}{'once img/s':>12}{'once var/s':>12}{'each img/s':>12}{'each var/s':>12}{'speed-up':>10}"
    print(header)
    rows = [(family, len(classes), decode + once[family], each[family]) for family, classes in FAMILIES.items()]
    rows.append(("all", variants, decode + sum(once.values()), sum(each.values())))
    for family, k, once_s, each_s in rows:
        print(
            f"    {family:<14}{k:>9}{count / once_s:>12.2f}{count * k / once_s:>12.1f}"
            f"{count / each_s:>12.2f}{count * k / each_s:>12.1f}{each_s / once_s:>9.2f}x"
        )
    print("    once = decode each source once, process_all; each = decode again for every variant")


if __name__ == "__main__":
    main()
