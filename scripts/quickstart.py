#!/usr/bin/env python3
"""The offline main job: the mission end to end, without a Flickr key, a Hub token or a GPU.

Starts the loopback Flickr stand-in with generated photos (each rendered through its camera
profile's processing; Exif from built-in camera profiles, plus the real sample photos in
../shared/data/exif-samples when present), then runs the same commands a researcher runs:
`flickrexif crawl`, `download`, `status`, `export`, `exif`, `flickrexif release` (small class
sizes: the demo crawl is small) and `datasets.load_dataset` on the release; renders a PairCams-like
set and runs `paircams ingest` and `release`; renders a folder of photos for the processing probes;
runs `trace-bench run` with the offline pretrained EfficientNet-Lite0 on all three (one sweep) and a
random model on PairCams, and `trace-bench report`.  Prints how long each step took.

Sized to take a few minutes on a 2-core CPU: the encoder passes of `trace-bench run` are most of the
time (a few images per second for EfficientNet-Lite0 on a busy 2-core machine), so the demo embeds a
few hundred photos per dataset (small class sizes, two of the four processing families, two of the
three attributes) and uses the fast probe search (`--probe-tune-epochs 10`).  When the output is not a
terminal (a log, CI) the commands' progress bars print a plain line every 30 s instead.
Usage: scripts/quickstart.py [OUT_DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from flickrexif.testing import FlickrStandin, builtin_profiles, generate_photos, render_photo

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data")) / "exif-samples"


# Class sizes the demo crawl can fill (the defaults follow the paper: thousands of photos per class);
# training photos capped so that the benchmark embeds a few hundred photos per model, not thousands.
DEMO_PHOTOS, DEMO_OWNERS = 1200, 240
DEMO_SPECS = {
    name: {"top_k": 4, "min_photos": 40, "val_per_class": 10, "test_per_class": 15, "train_per_class": 25}
    for name in ("Make", "Is Smartphone", "Flash")
}
# Large enough that each profile's noise, sharpening and JPEG traces survive the benchmark's resize
# to 224 pixels (at the stand-in's default 96x64 they are blown up 3.5 times and blurred away).
DEMO_PHOTO_SIZE = (320, 240)
# The pretrained model on all three datasets (one sweep); the random baseline on PairCams only.
BENCH_MODEL, BASELINE_MODEL = "effnet-lite0", "random:resnet10t"
# Encoder passes are the demo's time, so it embeds a few hundred photos per dataset: two of the four
# processing families (JPEG: 6 classes, resizing: 3; each test photo is embedded under every class),
# two of the three released attributes, and the fast probe search.  The full benchmark runs them all.
BENCH_OPTIONS = (
    *("--family", "jpeg", "--family", "resizing"),
    *("--target", "Make", "--target", "Is Smartphone"),
    *("--probe-tune-epochs", "10", "--mask-ratio", "0.9"),
)
PAIR_SUBJECTS = 40
PROCESSING_PHOTOS = 100  # a flat folder (no classes): trace-bench runs the processing probes on it

STEP_TIMES: list[tuple[str, float]] = []  # (step, seconds), printed at the end


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step of the demo: its duration is printed when it ends and in the summary."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    STEP_TIMES.append((name, seconds))
    print(f"[{name}: {_duration(seconds)}]", flush=True)


def _duration(seconds: float) -> str:
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s"


def run(*args: str, env: dict[str, str], stdout=None, tool: str = "flickrexif", step_name: str = "") -> None:
    name = Path(tool).name
    print(f"\n$ {name} {' '.join(args)}", flush=True)
    command = [sys.executable, "-m", "flickrexif", *args] if tool == "flickrexif" else [tool, *args]
    with step(step_name or f"{name} {args[0]}"):
        subprocess.run(command, env=env, check=True, stdout=stdout)


def bin_tool(name: str) -> str:
    """The console script installed next to this Python (the venv's bin folder)."""
    return str(Path(sys.executable).with_name(name))


def main() -> None:
    started = time.perf_counter()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", nargs="?", default="quickstart-out", type=Path, help="output folder (default: %(default)s)"
    )
    out = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    db, images = out / "crawl.db", out / "images"
    samples = SAMPLES if SAMPLES.is_dir() else None
    print(f"Rendering {DEMO_PHOTOS:,} photos for the local Flickr stand-in", flush=True)
    with step("render the stand-in's photos"):
        # Many owners: the release's splits are owner-disjoint.
        photos = generate_photos(DEMO_PHOTOS, seed=0, samples=samples, owners=DEMO_OWNERS, size=DEMO_PHOTO_SIZE)
    print(
        f"Local Flickr stand-in: {len(photos)} generated photos "
        f"(Exif from {'the real sample files in ' + str(samples) if samples else 'built-in camera profiles'})",
        flush=True,
    )
    with FlickrStandin(photos, latency_s=0.01, fault_rate=0.02, retry_after="0") as standin:
        env = {
            **os.environ,
            "FLICKR_API_KEY": "test-key",
            "FLICKR_API_SECRET": "quickstart",
            "FLICKR_API_URL": standin.api_url,
        }
        common = ["--db", str(db)]
        run(
            "crawl",
            *common,
            "--min-taken-date",
            "2009-01-01",
            "--max-taken-date",
            "2025-01-01",
            "--max-per-user-month",
            "5",
            "--rate",
            "360000",
            env=env,
        )  # the stand-in is local: 100 calls/s
        run("download", *common, "--out", str(images), env=env)
    run("status", *common, env=env)
    with (out / "photos.jsonl").open("w") as jsonl:
        run("export", *common, env=env, stdout=jsonl)
    with (out / "exif.csv").open("w") as csv_file:
        run("exif", str(images), "--format", "csv", env=env, stdout=csv_file)

    specs = out / "demo-specs.json"
    specs.write_text(json.dumps({"attributes": DEMO_SPECS}, indent=2))
    releases = out / "releases"
    release = releases / "v1.0.0"
    if not release.exists():
        run(
            "release",
            *common,
            "--images",
            str(images),
            "--out",
            str(releases),
            "--version",
            "1.0.0",
            "--specs",
            str(specs),
            *(a for name in DEMO_SPECS for a in ("--attribute", name)),
            "--note",
            "quickstart demo release",
            env=env,
        )
    with step("datasets.load_dataset"):
        show_dataset(release)

    pairs_release = make_paircams(out, env)
    photo_folder = make_photo_folder(out)

    # A sweep: the model is loaded once and runs on every dataset (--skip-existing: a rerun reuses results).
    results = out / "results"
    # (the baseline's PairCams gets retrieval only: no processing families, no acquisition targets to choose)
    sweeps = (
        (BENCH_MODEL, (release, pairs_release, photo_folder), BENCH_OPTIONS),
        (BASELINE_MODEL, (pairs_release,), ()),
    )
    for model, datasets, options in sweeps:
        run(
            "run",
            "--model",
            model,
            *(a for dataset in datasets for a in ("--dataset", str(dataset))),
            *options,
            "--out",
            str(results),
            "--skip-existing",
            env=env,
            tool=bin_tool("trace-bench"),
            step_name=f"trace-bench run {model}",
        )
    run("report", str(results), env=env, tool=bin_tool("trace-bench"))
    total = time.perf_counter() - started
    print("\nStep times:")
    for name, seconds in STEP_TIMES:
        print(f"  {_duration(seconds):>12}  {name}")
    print(f"  {_duration(total):>12}  in all")
    print(
        f"\nDone. Crawl database: {db}\nPhotos: {images}\nExport: {out / 'photos.jsonl'}\n"
        f"Exif and labels of the downloaded files: {out / 'exif.csv'}\n"
        f"FlickrExif release (card: README.md): {release}\n"
        f"PairCams-like release: {pairs_release}\n"
        f"Image folder for the processing probes: {photo_folder}\n"
        f"Benchmark results: {results}\nReport (tables, plots): {results / 'report'}"
    )


def make_paircams(out: Path, env: dict[str, str]) -> Path:
    """A PairCams-like set: each subject shot by a phone and, 20 s later, by a camera; ingest and release."""
    photos = out / "paircams-photos"
    phones = [p for p in builtin_profiles() if p.is_smartphone]
    cameras = [p for p in builtin_profiles() if not p.is_smartphone]
    print(f"\nRendering {PAIR_SUBJECTS} PairCams-like subjects (a phone and a camera photo each)", flush=True)
    with step("render the PairCams photos"):
        for subject in range(PAIR_SUBJECTS):
            folder = photos / f"subject-{subject:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            taken = datetime(2023, 5, 1, 9, 0) + timedelta(hours=subject)
            for name, profile, when in (
                ("phone", phones[subject % len(phones)], taken),
                ("camera", cameras[subject % len(cameras)], taken + timedelta(seconds=20)),
            ):
                (folder / f"{name}.jpg").write_bytes(render_photo(subject, profile, when, size=DEMO_PHOTO_SIZE))
    ingested, releases = out / "paircams-ingested", out / "paircams-releases"
    run("ingest", str(photos), "--out", str(ingested), env=env, tool=bin_tool("paircams"))
    if not (releases / "v1.0.0").exists():
        run("release", str(ingested), "--out", str(releases), "--version", "1.0.0", env=env, tool=bin_tool("paircams"))
    return releases / "v1.0.0"


def make_photo_folder(out: Path) -> Path:
    """Photos of varied scenes and cameras in one folder: any image set gets the processing probes."""
    folder = out / "photos-for-processing-probes"
    folder.mkdir(parents=True, exist_ok=True)
    profiles = builtin_profiles()
    print(f"\nRendering {PROCESSING_PHOTOS} photos for the processing probes", flush=True)
    with step("render the processing-probe photos"):
        for i in range(PROCESSING_PHOTOS):
            path = folder / f"photo-{i:03d}.jpg"
            if not path.exists():
                taken = datetime(2024, 6, 1) + timedelta(hours=i)
                path.write_bytes(render_photo(5000 + i, profiles[i % len(profiles)], taken, size=DEMO_PHOTO_SIZE))
    return folder


def show_dataset(release: Path) -> None:
    """What a researcher sees with `load_dataset`: splits, sizes, classes, a decoded image."""
    import datasets

    print(f"\n>>> datasets.load_dataset({str(release)!r}, 'Make')", flush=True)
    make = datasets.load_dataset(str(release), "Make")
    print(make)
    first = make["train"][0]
    print(
        f"classes: {make['train'].features['label'].names}; first image: {first['image'].size} pixels, "
        f"label {make['train'].features['label'].int2str(first['label'])}, owner {first['owner']}, "
        f"license {first['license']}"
    )


if __name__ == "__main__":
    main()
