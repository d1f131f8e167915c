#!/usr/bin/env python3
"""A sweep's shared preparation against separate runs: encoders of one input geometry, all variants.

Usage: ``python scripts/bench_sweep.py [--models random:resnet18 random:efficientnet_b0
random:mobilenetv3_large_100] [--n 32] [--size 1024x768] [--batch-size 32] [--workers 0] [--rounds 2]``.

Generates photo-like JPEGs (``bench_extract.make_photos``), then times, interleaved and best of
``--rounds``, into fresh caches:

* separate: :func:`benchmark.embeddings.extract.extract` of every class of every family (16 variants,
  14 distinct inputs) once per encoder, as three separate runs extract;
* sweep: :func:`benchmark.embeddings.extract.extract_cohort` of the same for the encoders together, as a
  sweep's cohort does (each source decoded once, each processing made once, each crop once per geometry,
  every batch given to each encoder);
* floor: the encoders' forward passes alone on ready tensors, in the extraction's batches.

Counts, from the pipeline itself: sources decoded, processings made (JPEG re-encodes, sharpening,
resizing of the full image) and processed inputs (the uint8 crops the encoders get), and checks that the
sweep's embeddings equal each separate run's bit for bit.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_extract import make_photos
from bench_extraction_floor import floor_seconds, forward_batches

import benchmark.embeddings.batches
import benchmark.imaging.processing
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import extract, extract_cohort
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.imaging.processing import FAMILIES
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.sources.folder import image_folder


class Counted:
    """Decodes, processings and crops made while it is on (list appends: exact from several threads)."""

    def __init__(self) -> None:
        self.decoded: list[int] = []
        self.processed: list[int] = []
        self.cropped: list[int] = []
        open_rgb, apply, pixels = (
            benchmark.embeddings.batches.open_rgb,
            benchmark.imaging.processing._apply,
            Variant.encoder_pixels,
        )
        benchmark.embeddings.batches.open_rgb = lambda *a, **k: self.decoded.append(1) or open_rgb(*a, **k)
        benchmark.imaging.processing._apply = lambda *a, **k: self.processed.append(1) or apply(*a, **k)
        Variant.encoder_pixels = lambda *a, **k: self.cropped.append(1) or pixels(*a, **k)

    def take(self) -> tuple[int, int, int]:
        found = len(self.decoded), len(self.processed), len(self.cropped)
        self.decoded.clear(), self.processed.clear(), self.cropped.clear()
        return found


def every_split(image_set, embed) -> dict:
    """``embed(split)`` for every split of the image set, by split."""
    return {split: embed(split) for split in image_set.splits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["random:resnet18", "random:efficientnet_b0", "random:mobilenetv3_large_100"]
    )
    parser.add_argument("--n", type=int, default=32, help="source photos")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    keep_freed_memory()
    width, height = (int(v) for v in args.size.split("x"))
    encoders = [load_encoder(name) for name in args.models]
    geometries = {encoder.preprocess.geometry for encoder in encoders}
    variants = [Variant(family, name) for family in FAMILIES for name in FAMILIES[family]]
    inputs = len({variant.input_key() for variant in variants})
    how = {"batch_size": args.batch_size, "workers": args.workers, "device": "cpu"}
    counted = Counted()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos" / "all"
        folder.mkdir(parents=True)
        make_photos(folder, args.n, width, height)
        image_set = image_folder(folder.parent)  # split as a folder of one class is: train, validation, test
        print(
            f"{len(encoders)} encoders ({', '.join(args.models)}), {len(geometries)} input geometr"
            f"{'y' if len(geometries) == 1 else 'ies'}; {args.n} photos {args.size} x {len(variants)} variants "
            f"({inputs} distinct inputs); batch {args.batch_size}, workers {args.workers}, "
            f"torch threads {torch.get_num_threads()}"
        )
        batches = forward_batches(args.n, inputs, args.batch_size)
        for encoder in encoders:
            floor_seconds(encoder, sorted(set(batches)))  # first call of each batch shape sets up its kernels
        best: dict[str, float] = {}
        counts: dict[str, tuple[int, int, int]] = {}
        for round_number in range(args.rounds):
            timings = {"floor (forward passes only)": sum(floor_seconds(encoder, batches) for encoder in encoders)}
            with tempfile.TemporaryDirectory() as caches:
                start = time.perf_counter()
                alone = [
                    every_split(image_set, lambda split, k=k: extract(encoders[k], image_set, split, variants,
                                                                        EmbeddingCache(f"{caches}/{k}"), **how))
                    for k in range(len(encoders))
                ]  # fmt: skip
                timings["separate runs"] = time.perf_counter() - start
                counts["separate runs"] = counted.take()
                start = time.perf_counter()
                cohort = every_split(
                    image_set,
                    lambda split: extract_cohort(
                        encoders, image_set, split, [variants] * len(encoders), EmbeddingCache(f"{caches}/sweep"), **how
                    ),
                )
                together = [{key: found[k] for key, found in cohort.items()} for k in range(len(encoders))]
                timings["sweep (shared preparation)"] = time.perf_counter() - start
                counts["sweep (shared preparation)"] = counted.take()
            same = all(
                torch.equal(together[k][split][v].vectors, alone[k][split][v].vectors)
                for k in range(len(encoders))
                for split in image_set.splits
                for v in variants
            )
            print(f"  round {round_number + 1}: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
            if not same:
                raise SystemExit("the sweep's embeddings differ from the separate runs'")
            for name, seconds in timings.items():
                best[name] = min(seconds, best.get(name, seconds))
    floor = best["floor (forward passes only)"]
    for name, seconds in best.items():
        line = f"  {name:28} {seconds:7.1f} s  {100 * floor / seconds:4.0f}% of floor"
        if name in counts:
            decoded, processed, cropped = counts[name]
            line += f"  decoded {decoded:5}  processings {processed:5}  processed inputs {cropped:5}"
        print(line)
    separate, shared = best["separate runs"], best["sweep (shared preparation)"]
    ratio = counts["sweep (shared preparation)"][2] / counts["separate runs"][2]
    print(f"  sweep / separate: {shared / separate:.2f} of the time, {ratio:.2f} of the processed inputs")
    print("  embeddings: the sweep's equal each separate run's bit for bit")


if __name__ == "__main__":
    main()
