#!/usr/bin/env python3
"""The whole extraction against its floor: the encoder's forward pass alone, same batches.

Usage: ``python scripts/bench_extraction_floor.py [--model effnet-lite0] [--n 64] [--size 1024x768]
[--batch-size 32] [--workers 0 1 2 auto] [--families jpeg sharpening resizing interpolation]
[--released PATH]``.

Generates photo-like JPEGs (``bench_extract.make_photos``), then times, interleaved and best of
``--rounds``:

* floor: ``model(x)`` on ready tensors of the encoder's input shape, in the batches the extraction
  forwards (per chunk of the split, ``--batch-size`` sources, once per distinct input: each family's
  ``none`` is ``jpeg/q95-444``, so the 16 variants are 14 forward passes per source);
* extraction: :func:`benchmark.embeddings.extract.extract` of every class of the chosen families from the
  files (decode once per source, every processing, preprocessing, forward), into a fresh cache, with
  each ``--workers`` value (data-loading processes that overlap decoding and processing with the
  forward pass);
* with ``--released PATH`` (a checkout of the paper's code): the released
  ``feature_extraction/extract_embeddings.py`` itself, once per released processing the variants
  need (``released_code.released_extraction``: its DataLoader over an ImageNet folder of the same
  photos, its transforms, our encoder's forward pass), with the same batch size and workers.

The process keeps freed memory as ``trace-bench`` does (``benchmark.runtime.host_memory``), for every row.
Prints images/s (embedded variants per second) and the share of the floor each reaches.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
from bench_extract import make_photos

from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import CHUNK_IMAGES, extract
from benchmark.embeddings.released_layout import released_name
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.imaging.processing import FAMILIES
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.sources.folder import image_folder


def forward_batches(sources: int, variants: int, batch_size: int) -> list[int]:
    """The batch sizes the extraction forwards: per chunk, per batch of sources, once per variant."""
    sizes = []
    for chunk in range(0, sources, CHUNK_IMAGES):
        in_chunk = min(CHUNK_IMAGES, sources - chunk)
        for done in range(0, in_chunk, batch_size):
            sizes += [min(batch_size, in_chunk - done)] * variants
    return sizes


def floor_seconds(encoder, batches: list[int]) -> float:
    """Forward passes alone, on ready tensors, in the extraction's batches."""
    crop = encoder.preprocess.crop_size
    inputs = {size: torch.randn(size, 3, crop, crop) for size in set(batches)}
    model = encoder.model.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        for size in batches:
            model(inputs[size])
    return time.perf_counter() - start


def extraction_seconds(encoder, folder: Path, variants: list[Variant], batch_size: int, workers: int | str) -> float:
    image_set = image_folder(folder)
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        for split in image_set.splits:
            extract(encoder, image_set, split, variants, EmbeddingCache(cache), batch_size=batch_size, workers=workers)
        return time.perf_counter() - start


def imagenet_folder(photos: Path, root: Path) -> Path:
    """The photos as the ImageNet folder the released loader reads (torchvision: meta.bin, train/<wnid>/)."""
    wnid = "n00000001"
    (root / "train" / wnid).mkdir(parents=True)
    for photo in photos.iterdir():
        os.symlink(photo, root / "train" / wnid / photo.name)
    torch.save(({wnid: ("bench photo",)}, []), root / "meta.bin")
    return root


def released_seconds(args, encoder, root: Path, processings: list[str], workers: int) -> float:
    from released_code import released_extraction

    with tempfile.TemporaryDirectory() as out:
        return released_extraction(args.released, root, processings, encoder, args.batch_size, workers, Path(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="effnet-lite0")
    parser.add_argument("--n", type=int, default=64, help="source photos")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--workers", type=lambda v: v if v == "auto" else int(v), nargs="+", default=[0, 1, 2], help="N or auto"
    )
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--released", type=Path, help="a checkout of the released code: time its extraction too")
    args = parser.parse_args()
    keep_freed_memory()
    width, height = (int(v) for v in args.size.split("x"))
    encoder = load_encoder(args.model)
    variants = [Variant(family, name) for family in args.families for name in FAMILIES[family]]
    processings = sorted({released_name(v.family, v.class_name) for v in variants})
    inputs = len({variant.input_key() for variant in variants})
    batches = forward_batches(args.n, inputs, args.batch_size)
    images = args.n * len(variants)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        make_photos(folder, args.n, width, height)
        root = imagenet_folder(folder, Path(tmp) / "imagenet") if args.released else None
        print(
            f"{args.model}: {args.n} photos {args.size} x {len(variants)} variants ({inputs} distinct inputs) = "
            f"{images} embeddings, batch {args.batch_size}, torch threads {torch.get_num_threads()}"
            + (f"; released: {len(processings)} processings" if args.released else "")
        )
        floor_seconds(encoder, sorted(set(batches)))  # first call of each batch shape sets up its kernels
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            timings = {"floor (forward only)": floor_seconds(encoder, batches)}
            for workers in args.workers:
                timings[f"extraction, workers {workers}"] = extraction_seconds(
                    encoder, folder, variants, args.batch_size, workers
                )
                if args.released:
                    timings[f"released extract_embeddings, workers {workers}"] = released_seconds(
                        args, encoder, root, processings, workers
                    )
            for name, seconds in timings.items():
                best[name] = min(seconds, best.get(name, seconds))
    floor = best["floor (forward only)"]
    for name, seconds in best.items():
        print(f"  {name:42} {seconds:8.1f} s  {images / seconds:8.1f} images/s  {100 * floor / seconds:5.0f}% of floor")
    for workers in args.workers if args.released else []:
        ours, theirs = best[f"extraction, workers {workers}"], best[f"released extract_embeddings, workers {workers}"]
        print(f"  workers {workers}: released / ours = {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
