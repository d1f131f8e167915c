#!/usr/bin/env python3
"""Mitigation on real photos: EfficientNet-Lite0, every processing family, LEACE / paired / INLP.

Usage: ``python scripts/bench_mitigate.py [OUT_DIR] [--photos DIR] [--crops 5] [--method leace ...]``.

The photos are the real camera JPEGs of ``../shared/data/exif-samples`` (or ``--photos``).  Semantic
classes need several images of one thing, so each decodable photo is one class and its ``--crops``
random crops (60% of the side, q95 JPEG, at most 400 pixels) are the images: all crops but one go to
``train/`` (kNN database, probe training, eraser fitting), the last to ``val/`` (queries, probe test).
Then ``trace-bench mitigate --model effnet-lite0 --dataset OUT/photos`` runs for each method (the
embeddings are computed once, then cached), and ``trace-bench report`` writes the mitigation section.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import typer
from PIL import Image, ImageOps
from typer.testing import CliRunner

from benchmark.cli.mitigate import mitigate_command
from benchmark.reporting.report import mitigation_markdown, mitigation_rows, write_report

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data")) / "exif-samples"
SKIP = ("orientation/landscape_", "orientation/portrait_", "_hdr_YES")  # rotated / re-shot copies of one photo


def build_crops(photos: Path, out: Path, crops: int, seed: int = 0) -> int:
    """One class per decodable photo (at least 256 px a side), ``crops`` crops each; returns the classes."""
    rng = np.random.default_rng(seed)
    classes = 0
    for path in sorted(photos.rglob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg") or any(s in str(path) for s in SKIP):
            continue
        try:
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened).convert("RGB")
        except Exception:  # the collection holds deliberately broken files
            continue
        if min(image.size) < 256:
            continue
        name = f"{classes:03d}-{path.stem[:24]}"
        side = (int(0.6 * image.width), int(0.6 * image.height))
        for index in range(crops):
            left = int(rng.integers(0, image.width - side[0] + 1))
            top = int(rng.integers(0, image.height - side[1] + 1))
            crop = image.crop((left, top, left + side[0], top + side[1]))
            crop.thumbnail((400, 400))
            folder = out / ("val" if index == crops - 1 else "train") / name
            folder.mkdir(parents=True, exist_ok=True)
            crop.save(folder / f"{index}.jpg", quality=95)
        classes += 1
    return classes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("mitigate-bench"))
    parser.add_argument("--photos", type=Path, default=SAMPLES)
    parser.add_argument("--crops", type=int, default=5)
    parser.add_argument("--method", action="append", choices=("leace", "paired", "inlp"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if not args.photos.is_dir():
        sys.exit(f"no photos at {args.photos} (set FLICKREXIF_SHARED_DATA or --photos)")
    dataset = args.out / "photos"
    if not dataset.is_dir():
        print(f"{build_crops(args.photos, dataset, args.crops)} photos -> {dataset}", file=sys.stderr)
    app = typer.Typer()
    app.command("mitigate")(mitigate_command)
    app.command("unused")(lambda: None)
    for method in args.method or ["leace", "paired", "inlp"]:
        command = ["mitigate", "--model", "effnet-lite0", "--dataset", str(dataset), "--out", str(args.out / "results")]
        command += ["--method", method, "--device", args.device, "--probe-tune-epochs", "10"]
        done = CliRunner().invoke(app, command)
        print(done.output, end="")
        if done.exit_code:
            raise SystemExit(done.exit_code)
    write_report(args.out / "results")
    print(mitigation_markdown(mitigation_rows(args.out / "results")))


if __name__ == "__main__":
    main()
