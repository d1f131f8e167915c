#!/usr/bin/env python3
"""The offline main job: the mission end to end, without a Flickr key, a Hub token or a GPU.

Starts the loopback Flickr stand-in with generated photos (each rendered through its camera
profile's processing; Exif from built-in camera profiles, plus the real sample photos in
../shared/data/exif-samples when present), then runs the same commands a researcher runs:
`flickrexif crawl`, `download`, `status`, `export`, `exif`, `flickrexif release` (small class
sizes: the demo crawl is small) and `datasets.load_dataset` on the release; renders a PairCams-like
set and runs `paircams ingest` and `release`; renders a folder of photos for the processing probes;
runs `trace-bench run` with the offline pretrained EfficientNet-Lite0 and a random model on all
three, and `trace-bench report`.  Usage: scripts/quickstart.py [OUT_DIR]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from flickrexif.testing import FlickrStandin, builtin_profiles, generate_photos, render_photo

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("FLICKREXIF_SHARED_DATA", REPO.parent / "shared" / "data")) / "exif-samples"


# Class sizes the demo crawl can fill (the defaults follow the paper: thousands of photos per class).
DEMO_PHOTOS, DEMO_OWNERS = 1200, 240
DEMO_SPECS = {
    name: {"top_k": 4, "min_photos": 40, "val_per_class": 10, "test_per_class": 15}
    for name in ("Make", "Is Smartphone", "Flash")
}
# Large enough that each profile's noise, sharpening and JPEG traces survive the benchmark's resize
# to 224 pixels (at the stand-in's default 96x64 they are blown up 3.5 times and blurred away).
DEMO_PHOTO_SIZE = (320, 240)
BENCH_MODELS = ("effnet-lite0", "random:resnet10t")
PAIR_SUBJECTS = 60
PROCESSING_PHOTOS = 160  # a flat folder (no classes): trace-bench runs the processing probes on it


def run(*args: str, env: dict[str, str], stdout=None, tool: str = "flickrexif") -> None:
    print(f"\n$ {tool} {' '.join(args)}", flush=True)
    command = [sys.executable, "-m", "flickrexif", *args] if tool == "flickrexif" else [tool, *args]
    subprocess.run(command, env=env, check=True, stdout=stdout)


def bin_tool(name: str) -> str:
    """The console script installed next to this Python (the venv's bin folder)."""
    return str(Path(sys.executable).with_name(name))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart-out").resolve()
    out.mkdir(parents=True, exist_ok=True)
    db, images = out / "crawl.db", out / "images"
    samples = SAMPLES if SAMPLES.is_dir() else None
    # Many owners: the release's splits are owner-disjoint.
    photos = generate_photos(DEMO_PHOTOS, seed=0, samples=samples, owners=DEMO_OWNERS, size=DEMO_PHOTO_SIZE)
    print(
        f"Local Flickr stand-in: {len(photos)} generated photos "
        f"(Exif from {'the real sample files in ' + str(samples) if samples else 'built-in camera profiles'})"
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
    show_dataset(release)

    pairs_release = make_paircams(out, env)
    photo_folder = make_photo_folder(out)

    results = out / "results"
    for model in BENCH_MODELS:
        for dataset in (release, pairs_release, photo_folder):
            run(
                "run",
                "--model",
                model,
                "--dataset",
                str(dataset),
                "--out",
                str(results),
                "--skip-existing",
                "--mask-ratio",
                "0.9",
                env=env,
                tool=bin_tool("trace-bench"),
            )
    run("report", str(results), env=env, tool=bin_tool("trace-bench"))
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
