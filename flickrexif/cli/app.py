"""``flickrexif``: the FlickrExif command line (thin: parse options, call the library, print)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn
from rich.text import Text

from flickrexif.cli.errors import reported_errors
from flickrexif.cli.options import new_app, progress_bar, say_removed, stderr, version_option
from flickrexif.cli.writers import OutputFormat, table_console, write_csv, write_jsonl, write_table
from flickrexif.crawl.client import FlickrClient
from flickrexif.crawl.crawler import CallCounter, CrawlConfig, Crawler, CrawlProgress, previous_max_taken
from flickrexif.crawl.credentials import load_flickr_credentials
from flickrexif.crawl.download import DownloadConfig, download_photos
from flickrexif.crawl.export import export_rows
from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.ratelimit import RateLimiter
from flickrexif.crawl.status import crawl_status
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.read import DEFAULT_MAX_PIXELS
from flickrexif.exif.scan import iter_photo_paths, scan_file

app = new_app(
    "FlickrExif: collect permissively licensed Flickr photos with their Exif, turn Exif into "
    "camera and exposure labels, and publish the dataset."
)
VersionOption = version_option("flickrexif")

# Header → row key of the `exif` table (jsonl and csv carry every field).
EXIF_TABLE_COLUMNS = {
    "file": "file", "make": "make", "model": "model", "phone": "is_smartphone",
    "exposure → class": "shown_exposure", "aperture → class": "shown_aperture", "ISO → class": "shown_iso",
    "focal → class": "shown_focal_length", "flash": "label_flash", "year": "label_year",
    "JPEG q": "jpeg_quality", "chroma": "chroma_subsampling", "error": "error",
}  # fmt: skip
# (value of the photo, its FlickrExif class): the table shows both where they differ
BINNED = {
    "exposure": ("exposure_time", "{}"),
    "aperture": ("f_number", "f/{:g}"),
    "iso": ("iso", "{}"),
    "focal_length": ("focal_length_mm", "{:g} mm"),
}


def _value_and_class(row: dict) -> dict:
    """``1/391 → 1/400``: the value the photo records and the 1/3-stop class FlickrExif bins it into."""
    labels = row.get("labels") or {}
    for label, (field, shape) in BINNED.items():
        value, binned = row.get(field), labels.get(label)
        shown = shape.format(value) if value is not None else ""
        row[f"shown_{label}"] = f"{shown} → {binned}" if binned and shown and shown != binned else binned or shown
    return row


@app.callback()
def main(version: VersionOption = False) -> None:
    """FlickrExif command line."""


@app.command("exif")
def exif_command(
    paths: Annotated[list[Path], typer.Argument(help="Photo files or folders (searched recursively).")],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table for reading, jsonl or csv for tools.")
    ] = OutputFormat.table,
    max_pixels: Annotated[
        int, typer.Option(help="Refuse images whose header claims more pixels (decompression bombs).")
    ] = DEFAULT_MAX_PIXELS,
) -> None:
    """Read Exif from JPEG, HEIC/HEIF and TIFF files and print one row per file with labels.

    Folders are searched recursively for image files (.jpg .jpeg .heic .heif .tif .tiff ...).
    Files that cannot be read still get a row, with the reason in the `error` column; the exit
    code is 0 unless no file was found.  Pixels are never decoded.
    """
    files = list(iter_photo_paths(paths))
    if not files:
        stderr.print("[red]No image files found[/red] in: " + escape(", ".join(map(str, paths))))
        raise typer.Exit(code=1)
    errors = 0
    with Progress(console=stderr, transient=True, disable=len(files) < 200) as progress:
        task = progress.add_task("Reading Exif", total=len(files))

        def rows():
            nonlocal errors
            for path in files:
                row = scan_file(path, max_pixels=max_pixels)
                errors += row["error"] is not None
                progress.advance(task)
                yield row

        if output_format is OutputFormat.jsonl:
            write_jsonl(rows(), sys.stdout)
        elif output_format is OutputFormat.csv:
            write_csv(rows(), sys.stdout)
        else:
            collected = list(rows())
            progress.stop()
            root = os.path.commonpath([os.path.realpath(p.parent) for p in files])  # realpath: no error on link loops
            for row in collected:
                row["file"] = os.path.relpath(os.path.realpath(row["path"]), root)
                _value_and_class(row)
            write_table(
                collected, EXIF_TABLE_COLUMNS, table_console(), title=f"Exif of {len(collected)} files under {root}"
            )
            stderr.print(
                "value → class: what the photo records, and the FlickrExif class (1/3-stop series) it falls in; "
                "--format csv or jsonl gives both in full"
            )
    stderr.print(f"{len(files)} files read, {errors} with errors (see the error column)")


# --- crawl, download, status, export ---------------------------------------------------------

CrawlDbOption = Annotated[Path, typer.Option("--db", help="The crawl database (SQLite); created if missing.")]
DbOption = Annotated[Path, typer.Option("--db", help="The crawl database (SQLite) that `flickrexif crawl` made.")]


def _parse_date(text: str, option: str) -> datetime:
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    raise typer.BadParameter(f"{text!r} is not a date like 2015-06-30 or 2015-06-30 12:00:00", param_hint=option)


def _parse_licenses(text: str) -> frozenset[int]:
    try:
        ids = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of license ids", param_hint="--licenses"
        ) from None
    if not ids:
        raise typer.BadParameter("at least one license id is needed", param_hint="--licenses")
    return ids


def _require_db(db: Path) -> None:
    """Only ``crawl`` creates a database: a mistyped --db elsewhere is an error, not a new empty file."""
    if not db.is_file():
        stderr.print(
            f"[red]No crawl database at {escape(str(db))}[/red] (check --db; `flickrexif crawl --db` creates one)",
            highlight=False,
        )
        raise typer.Exit(code=2)


def _open_store(db: Path, *, create: bool = False) -> CrawlStore:
    if not create:
        _require_db(db)
    with reported_errors(heading=f"Cannot open {db}:"):
        return CrawlStore(db)


@app.command("crawl")
def crawl_command(
    db: CrawlDbOption,
    text: Annotated[Optional[str], typer.Option(help="Free-text search (title, description, tags).")] = None,
    tags: Annotated[Optional[str], typer.Option(help="Comma-separated tags (any of them).")] = None,
    min_taken_date: Annotated[str, typer.Option(help="Earliest date taken, YYYY-MM-DD[ HH:MM:SS].")] = "2000-01-01",
    max_taken_date: Annotated[Optional[str], typer.Option(help="Latest date taken (inclusive); default: now.")] = None,
    licenses: Annotated[
        str, typer.Option(help="Comma-separated Flickr license ids; default: the permissive ones.")
    ] = ",".join(str(i) for i in sorted(PERMISSIVE_LICENSES)),
    max_per_user_month: Annotated[
        int, typer.Option(help="At most this many kept photos per photographer per month taken.")
    ] = 10,
    max_photos: Annotated[Optional[int], typer.Option(help="Stop once this many photos are kept.")] = None,
    rate: Annotated[float, typer.Option(help="API calls per hour (Flickr allows 3,600 per key).")] = 3600.0,
    workers: Annotated[int, typer.Option(help="Concurrent getExif calls.")] = 8,
    result_cap: Annotated[
        int, typer.Option(help="Results Flickr returns per query at most (4,000); date windows are split to fit.")
    ] = 4000,
    api_url: Annotated[
        Optional[str], typer.Option(envvar="FLICKR_API_URL", help="Flickr REST endpoint (tests, proxies).")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option(help="Config file with a `[flickr]` table (api_key, api_secret).")
    ] = None,
) -> None:
    """Crawl Flickr for safe, permissively licensed photos and their Exif into --db.

    Resumable: run the same command again after an interruption and it continues where it
    stopped.  The key and secret come from FLICKR_API_KEY / FLICKR_API_SECRET or the config
    file, never from the command line.
    """
    with reported_errors():
        crawl_config = CrawlConfig(
            min_taken=_parse_date(min_taken_date, "--min-taken-date"),
            max_taken=_parse_date(max_taken_date, "--max-taken-date")
            if max_taken_date
            else datetime.now().replace(microsecond=0),
            text=text,
            tags=tags,
            licenses=_parse_licenses(licenses),
            max_per_user_month=max_per_user_month,
            max_photos=max_photos,
            workers=workers,
            result_cap=result_cap,
        )
        credentials = load_flickr_credentials(config_path=config)
        limiter = RateLimiter(rate)
    calls = CallCounter()
    client = FlickrClient(credentials, api_url=api_url, rate_limiter=limiter, on_call=calls, pool_size=max(workers, 10))
    with _open_store(db, create=True) as store, progress_bar(TextColumn("{task.fields[info]}"), transient=False) as bar:
        task = bar.add_task("getExif", total=None, info="")
        resumed_end = previous_max_taken(store, crawl_config) if max_taken_date is None else None
        if resumed_end is not None:  # same search as last time: resume it rather than start anew
            crawl_config = replace(crawl_config, max_taken=resumed_end)

        def show(progress: CrawlProgress) -> None:
            queued = progress.exif_done + len(crawler._queue) + len(crawler._in_flight)
            bar.update(
                task,
                completed=progress.exif_done,
                total=queued or None,
                info=f"kept {progress.kept}, search pages {progress.search_pages}",
            )

        crawler = Crawler(store, client, crawl_config, calls, on_progress=show)
        with reported_errors(
            stop=bar.stop, interrupted="Everything answered so far is stored; run the same command to resume."
        ):
            progress = crawler.run()
        summary = crawl_status(store)
    stderr.print(
        f"Crawl finished: {summary['photos_kept']} photos kept of {summary['photos_seen']} seen, "
        f"{summary['api_calls_total']} API calls ({summary['calls_per_kept_photo']} per kept photo). "
        f"Outcomes this run: {dict(progress.outcomes)}"
    )


@app.command("download")
def download_command(
    db: DbOption,
    out: Annotated[Path, typer.Option("--out", help="Folder for the photo files (OUT/<last 2 digits>/<id>.<ext>).")],
    workers: Annotated[int, typer.Option(help="Concurrent downloads.")] = 4,
) -> None:
    """Download the originals of kept photos: untouched bytes, verified to decode, sha256 recorded.

    Resumable and idempotent: done photos are skipped, failed ones retried.  When an owner
    does not offer the original, the large size is taken and recorded as such.
    """
    if workers < 1:
        stderr.print("[red]--workers must be at least 1[/red]")
        raise typer.Exit(code=2)
    with _open_store(db) as store:
        todo = len(store.photos_to_download())
        with progress_bar(transient=False) as bar:
            task = bar.add_task("Downloading", total=todo)
            with reported_errors(stop=bar.stop, interrupted="Finished files are recorded; run again to resume."):
                counts = download_photos(
                    store, DownloadConfig(out_dir=out, workers=workers), on_result=lambda result: bar.advance(task)
                )
    stderr.print(f"Downloads: {counts or 'nothing to do'}")


@app.command("status")
def status_command(
    db: DbOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full status as JSON.")] = False,
) -> None:
    """Photos by state, labels, cap hits, errors, API calls per kept photo, throughput and ETA."""
    with _open_store(db) as store:
        summary = crawl_status(store)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    console = table_console()
    rows = [
        {"what": "photos seen", "value": summary["photos_seen"]},
        {"what": "photos kept (usable Exif)", "value": summary["photos_kept"]},
        *({"what": f"  status {k}", "value": v} for k, v in summary["photos_by_status"].items()),
        {"what": "owner-months at the cap", "value": summary["cap"]["owner_months_at_cap"]},
        {"what": "API calls", "value": summary["api_calls_total"]},
        *({"what": f"  {k}", "value": v} for k, v in summary["api_calls"].items()),
        {"what": "API calls per kept photo", "value": summary["calls_per_kept_photo"]},
        *({"what": f"error {k}", "value": v} for k, v in summary["errors"].items()),
        *({"what": f"download {k}", "value": v} for k, v in summary["downloads"].items()),
        {"what": "photos/s (getExif outcomes)", "value": summary["photos_per_second"]},
        {"what": "remaining (estimate)", "value": summary["remaining_photos_estimate"]},
        {"what": "ETA (s)", "value": summary["eta_seconds"]},
    ]
    write_table(rows, {"": "what", "value": "value"}, console, title=f"Crawl status of {db}")
    for attribute, classes in summary["labels"].items():
        if classes:  # labels are data: no markup, no highlighting (slow on very long labels)
            line = Text(f"{attribute}", style="bold") + Text(": " + ", ".join(f"{k} ({v})" for k, v in classes.items()))
            console.print(line, highlight=False)


@app.command("export")
def export_command(
    db: DbOption,
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="jsonl or csv.")] = OutputFormat.jsonl,
) -> None:
    """Every stored photo with owner, dates, license, status, parsed Exif, labels and download state."""
    if output_format is OutputFormat.table:
        stderr.print("[red]export writes jsonl or csv[/red]")
        raise typer.Exit(code=2)
    with _open_store(db) as store:
        writer = write_jsonl if output_format is OutputFormat.jsonl else write_csv
        count = writer(export_rows(store), sys.stdout)
    stderr.print(f"{count} photos exported")


# --- build, release, push ------------------------------------------------------------------

ImagesOption = Annotated[
    Path, typer.Option("--images", help="Folder of downloaded photos (`flickrexif download --out`).")
]
SpecsOption = Annotated[
    Optional[Path],
    typer.Option("--specs", help="JSON overriding per-attribute class/split settings (shape of data/build.json)."),
]
ExcludeOption = Annotated[
    Optional[Path],
    typer.Option(
        "--exclude",
        help="Takedown list: Flickr photo ids or photo URLs (page, flic.kr, static image), several per line allowed, # comments.",
    ),
]
AttributeOption = Annotated[
    Optional[list[str]], typer.Option("--attribute", help="Configurations to build (repeat; default: all ten).")
]
SeedOption = Annotated[int, typer.Option(help="Seed of the owner-disjoint split.")]
NoImagesOption = Annotated[bool, typer.Option("--no-images", help="Keep photo URLs instead of image bytes.")]


def _build_config(
    db: Path,
    images: Path,
    seed: int,
    specs: Optional[Path],
    exclude: Optional[Path],
    attributes: Optional[list[str]],
    no_images: bool,
):
    from flickrexif.dataset.spec import BuildConfig, load_exclusions, load_specs  # datasets/pyarrow: import when used
    from flickrexif.exif.labels import ATTRIBUTES

    with reported_errors():
        return BuildConfig(
            db=db,
            images=images,
            seed=seed,
            include_images=not no_images,
            attributes=tuple(attributes or ATTRIBUTES),
            specs=load_specs(specs) if specs else {},
            exclude_ids=load_exclusions(exclude) if exclude else frozenset(),
        )


def _print_build(result) -> None:
    from flickrexif.dataset.builder import skipped_summary

    rows = [
        {"config": c.name, "classes": len(c.classes), "rows": c.rows, "built": "no" if c.skipped else "yes"}
        for c in result.configs
    ]
    write_table(
        rows,
        {"configuration": "config", "classes": "classes", "rows": "rows", "built": "built"},
        table_console(),
        title=f"{result.photos_eligible} eligible of {result.photos_kept} kept photos",
    )
    if summary := skipped_summary(result.configs):
        stderr.print(f"[yellow]Not built:[/yellow] {escape(summary)}", highlight=False)


def _with_build_progress(function, *args):
    with progress_bar() as bar:
        task = bar.add_task("building", total=None)

        def show(progress) -> None:
            bar.update(
                task, description=f"{progress.config} / {progress.split}", completed=progress.rows, total=progress.total
            )

        with reported_errors(stop=bar.stop):
            return function(*args, on_progress=show)


@app.command("build")
def build_command(
    db: DbOption,
    images: ImagesOption,
    out: Annotated[Path, typer.Option("--out", help="Output folder (a Hugging Face dataset folder).")],
    seed: SeedOption = 0,
    specs: SpecsOption = None,
    exclude: ExcludeOption = None,
    attribute: AttributeOption = None,
    no_images: NoImagesOption = False,
) -> None:
    """Build FlickrExif: one configuration per attribute, balanced, owner-disjoint splits, Parquet + card.

    Load it with `datasets.load_dataset(OUT, "Make")`.
    """
    from flickrexif.dataset.builder import build

    config = _build_config(db, images, seed, specs, exclude, attribute, no_images)
    _require_db(db)  # after the options are checked, before the output folder is made
    result = _with_build_progress(lambda *args, on_progress: build(*args, on_progress, say_removed), config, out)
    _print_build(result)
    stderr.print(f"Dataset in {out}: load it with datasets.load_dataset({str(out)!r}, 'Make')")


@app.command("release")
def release_command(
    db: DbOption,
    images: ImagesOption,
    out: Annotated[Path, typer.Option("--out", help="Releases folder; the release goes to OUT/vX.Y.Z/.")],
    version: Annotated[str, typer.Option(help="Release version X.Y.Z.")],
    note: Annotated[Optional[list[str]], typer.Option(help="Changelog line (repeat for several).")] = None,
    seed: SeedOption = 0,
    specs: SpecsOption = None,
    exclude: ExcludeOption = None,
    attribute: AttributeOption = None,
    no_images: NoImagesOption = False,
) -> None:
    """Build a versioned, reproducible release folder: card, data, split files, manifest, changelog.

    Written to a temporary folder and renamed at the end; the same inputs give the same bytes.
    """
    from flickrexif.dataset.builder import FlickrExifDataset
    from flickrexif.publish.release import release

    def publish(config, on_progress):
        return release(FlickrExifDataset(config, on_progress), out, version, tuple(note or ()), say_removed)

    config = _build_config(db, images, seed, specs, exclude, attribute, no_images)
    _require_db(db)  # after the options are checked, before the releases folder is made
    result = _with_build_progress(publish, config)
    _print_build(result.contents.details)
    stderr.print(
        f"Release {result.version} in {result.path} ({len(result.manifest.get('files', []))} files in the manifest)"
    )


@app.command("push")
def push_command(
    release_dir: Annotated[Path, typer.Argument(help="A release folder (RELEASES/vX.Y.Z).")],
    repo: Annotated[str, typer.Option("--repo", help="Hub dataset repository ORG/NAME.")],
    endpoint: Annotated[
        Optional[str], typer.Option(envvar="HF_ENDPOINT", help="Hub URL (default: the public Hub).")
    ] = None,
    private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
) -> None:
    """Upload a release to the Hugging Face Hub and tag it vX.Y.Z (token from HF_TOKEN).

    Then `load_dataset(ORG/NAME, "Make", revision="vX.Y.Z")` gets exactly that release.
    """
    from flickrexif.publish.hub import PushConfig, push_release

    with reported_errors():
        result = push_release(PushConfig(release_dir=release_dir, repo_id=repo, endpoint=endpoint, private=private))
    if result.reused:
        stderr.print(
            f"Tagged {result.tag} on {result.repo_id}: commit {result.commit[:12]}, which an earlier push of "
            f"{release_dir} left untagged, already holds the release (nothing committed again)",
            highlight=False,
        )
        return
    stderr.print(
        f"Pushed {release_dir} to {result.repo_id} as tag {result.tag} (commit {result.commit[:12]}, "
        f"{len(result.added)} files added, {len(result.deleted)} removed)"
    )
