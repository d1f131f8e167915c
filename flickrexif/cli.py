"""``flickrexif``: the FlickrExif command line (thin: parse options, call the library, print)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from flickrexif.cli_options import new_app, version_option
from flickrexif.exif import DEFAULT_MAX_PIXELS
from flickrexif.scan import iter_photo_paths, scan_file
from flickrexif.tabular import OutputFormat, table_console, write_csv, write_jsonl, write_table

app = new_app(
    "FlickrExif: collect permissively licensed Flickr photos with their Exif, turn Exif into "
    "camera and exposure labels, and publish the dataset."
)
VersionOption = version_option("flickrexif")
stderr = Console(stderr=True)

# Header → row key of the `exif` table (jsonl and csv carry every field).
EXIF_TABLE_COLUMNS = {
    "file": "file", "make": "make", "model": "model", "phone": "is_smartphone",
    "exposure": "label_exposure", "aperture": "label_aperture", "ISO": "label_iso",
    "focal": "label_focal_length", "flash": "label_flash", "year": "label_year",
    "JPEG q": "jpeg_quality", "chroma": "chroma_subsampling", "error": "error",
}  # fmt: skip


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
        stderr.print("[red]No image files found[/red] in: " + ", ".join(map(str, paths)))
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
            root = os.path.commonpath([p.parent.resolve() for p in files])
            for row in collected:
                row["file"] = os.path.relpath(Path(row["path"]).resolve(), root)
            write_table(collected, EXIF_TABLE_COLUMNS, table_console(), title=f"Exif of {len(collected)} files under {root}")
    stderr.print(f"{len(files)} files read, {errors} with errors (see the error column)")
