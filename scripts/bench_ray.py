#!/usr/bin/env python3
"""Images/s of embedding extraction with ``--executor ray`` and 1, 2, ... workers on this machine.

Usage: ``python scripts/bench_ray.py [--n 256] [--size 640x480] [--model random:resnet10t] [--chunk 32]
[--workers 1 2] [--variants 1]``.  Needs ``pip install '.[ray]'``.

Generates photo-like JPEGs (as scripts/bench_extract.py), then embeds them, each time into a fresh
cache: first in this process (the local executor), then on a local Ray with 1, 2, ... workers of one
torch thread each (this process also gets one thread, so every run computes the same bits).  The
pool is started and warmed on a few images before the clock starts, so the rows time the steady
state; the startup row says what starting Ray and the workers cost.  ``--chunk`` images make one
unit of work (the cache's chunk; 512 in real runs), so a small ``--n`` still spreads over workers.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from bench_extract import make_photos

import benchmark.embeddings.extract
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.extract import extract
from benchmark.embeddings.ray_executor import RayExecutor, cluster, connect, shutdown_pool
from benchmark.embeddings.variants import Variant
from benchmark.encoders import load_encoder
from benchmark.imaging.processing import FAMILIES
from benchmark.sources.imageset import ImageItem, ImageSet


def image_set(paths: list[Path], name: str) -> ImageSet:
    items = tuple(ImageItem(id=p.name, split="train", read=p.read_bytes) for p in paths)
    return ImageSet(name=name, items=items, fingerprint=name)


def timed(encoder, images: ImageSet, variants, cache_root: Path, executor) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    found = extract(encoder, images, "train", variants, EmbeddingCache(cache_root), device="cpu", executor=executor)
    return time.perf_counter() - start, torch.cat([found[v].vectors for v in variants])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=256, help="generated images")
    parser.add_argument("--size", default="640x480", help="WIDTHxHEIGHT of the generated images")
    parser.add_argument("--model", default="random:resnet10t", help="encoder (default: random weights, no download)")
    parser.add_argument("--chunk", type=int, default=32, help="images per unit of work (the cache's chunk)")
    parser.add_argument("--workers", type=int, nargs="+", default=None, help="Ray worker counts (default 1..CPUs)")
    parser.add_argument("--variants", type=int, default=1, help="JPEG classes per image (1: the source only)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    benchmark.embeddings.extract.CHUNK_IMAGES = args.chunk
    torch.set_num_threads(1)
    encoder = load_encoder(args.model)
    variants = [Variant()] + [Variant("jpeg", name) for name in FAMILIES["jpeg"][: args.variants - 1]]
    counts = args.workers or list(range(1, (os.cpu_count() or 1) + 1))

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "images").mkdir()
        paths = make_photos(root / "images", args.n, width, height)
        images, warm = image_set(paths, "bench"), image_set(paths[: args.chunk], "warm-up")
        timed(encoder, warm, variants, root / "warm-local", None)
        local, expected = timed(encoder, images, variants, root / "local", None)
        start = time.perf_counter()
        ray = connect(None)
        startup = time.perf_counter() - start
        rows = []
        for workers in counts:
            executor = RayExecutor(workers=workers, threads=1)
            start = time.perf_counter()
            timed(encoder, warm, variants, root / f"warm-{workers}", executor)  # starts and warms the workers
            started = time.perf_counter() - start
            seconds, found = timed(encoder, images, variants, root / f"ray-{workers}", executor)
            rows.append((workers, executor.pool_size("cpu"), seconds, started, torch.equal(found, expected)))
            shutdown_pool()
        found_cluster = cluster(None)
        ray.shutdown()

    embedded = args.n * len(variants)
    print(
        f"trace-bench extraction on Ray {ray.__version__}: {args.n} JPEGs {width}x{height}, {len(variants)} variant(s), "
        f"{args.model}, chunks of {args.chunk}, batch {benchmark.embeddings.extract.default_batch_size('cpu')}, 1 torch thread "
        f"per worker; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    )
    print(f"local Ray: {found_cluster}; ray.init {startup:.1f} s")
    print(f"{'executor':<18}{'workers':>8}{'seconds':>10}{'images/s':>10}{'speed-up':>10}{'start s':>9}  same bits")
    print(f"{'local':<18}{1:>8}{local:>10.2f}{embedded / local:>10.1f}{1:>9.2f}x{'':>9}  -")
    for asked, used, seconds, started, same in rows:
        label = f"ray ({asked} asked)" if asked != used else "ray"
        print(
            f"{label:<18}{used:>8}{seconds:>10.2f}{embedded / seconds:>10.1f}{local / seconds:>9.2f}x"
            f"{started:>9.1f}  {'yes' if same else 'NO'}"
        )
    print("images/s counts every (image, variant); start s: starting the pool and a warm-up chunk")


if __name__ == "__main__":
    main()
