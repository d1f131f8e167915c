#!/usr/bin/env python3
"""The whole extraction against its floor: the encoder's forward pass alone, same batch size.

Usage: ``python scripts/bench_extraction_floor.py [--model effnet-lite0] [--n 64] [--size 1024x768]
[--batch-size 32] [--workers 0 1 2] [--families jpeg sharpening resizing interpolation]``.

Generates photo-like JPEGs (``bench_extract.make_photos``), then times, interleaved and best of
``--rounds``:

* floor: ``model(x)`` on ready tensors of the encoder's input shape, as many images as the
  extraction embeds (sources × variants), in batches of ``--batch-size``;
* extraction: :func:`benchmark.extract.extract` of every class of the chosen families from the
  files (decode once per source, every processing, preprocessing, forward), into a fresh cache, with
  each ``--workers`` value (data-loading processes that overlap decoding and processing with the
  forward pass);
* the released pipeline's order of work for the same variants: one pass per processing, each
  decoding every source again (``released`` row; our decode-once path is what differs).

Prints images/s (embedded variants per second) and the share of the floor each reaches.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_extract import make_photos

from benchmark.encoders import load_encoder
from benchmark.extract import EmbeddingCache, Variant, extract
from benchmark.imagesets import image_folder
from benchmark.processing import FAMILIES


def floor_seconds(encoder, images: int, batch_size: int) -> float:
    """Forward passes alone over ``images`` inputs of the encoder's shape, in ``batch_size`` batches."""
    crop = encoder.preprocess.crop_size
    batch = torch.randn(batch_size, 3, crop, crop)
    model = encoder.model.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        for done in range(0, images, batch_size):
            model(batch[: min(batch_size, images - done)])
    return time.perf_counter() - start


def extraction_seconds(encoder, folder: Path, variants: list[Variant], batch_size: int, workers: int) -> float:
    image_set = image_folder(folder)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        for split in image_set.splits:
            extract(encoder, image_set, split, variants, EmbeddingCache(cache), batch_size=batch_size, workers=workers)
        return time.perf_counter() - start


def released_order_seconds(encoder, folder: Path, variants: list[Variant], batch_size: int) -> float:
    """One extraction per processing (as the released scripts run), each decoding every source again."""
    image_set = image_folder(folder)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        for variant in variants:
            for split in image_set.splits:
                extract(encoder, image_set, split, [variant], EmbeddingCache(cache), batch_size=batch_size)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="effnet-lite0")
    parser.add_argument("--n", type=int, default=64, help="source photos")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--released-order", action="store_true", help="also time one pass per processing")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    encoder = load_encoder(args.model)
    variants = [Variant(family, name) for family in args.families for name in FAMILIES[family]]
    images = args.n * len(variants)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        make_photos(folder, args.n, width, height)
        print(
            f"{args.model}: {args.n} photos {args.size} x {len(variants)} variants = {images} embeddings, "
            f"batch {args.batch_size}, torch threads {torch.get_num_threads()}"
        )
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            timings = {"floor (forward only)": floor_seconds(encoder, images, args.batch_size)}
            for workers in args.workers:
                timings[f"extraction, workers {workers}"] = extraction_seconds(
                    encoder, folder, variants, args.batch_size, workers
                )
            if args.released_order:
                timings["released order (decode per processing)"] = released_order_seconds(
                    encoder, folder, variants, args.batch_size
                )
            for name, seconds in timings.items():
                best[name] = min(seconds, best.get(name, seconds))
    floor = best["floor (forward only)"]
    for name, seconds in best.items():
        print(f"  {name:42} {seconds:8.1f} s  {images / seconds:8.1f} images/s  {100 * floor / seconds:5.0f}% of floor")


if __name__ == "__main__":
    main()
