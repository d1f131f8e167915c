"""``paircams``: ingest paired photos, release and push PairCams (thin: parse, call the library, print).

Exit codes: 0 success; 1 the data did not allow the work (``ingest`` found no valid pair at all —
its report is still written —, or a photo changed since it was ingested); 2 the command cannot run
as asked (no such folder, bad tolerance or version, a release version that already exists, an
ingested folder without pairs, a push the Hub refused — as ``flickrexif push``).
Bad photo files never fail ``ingest`` while at least one pair is found: they are listed in the
report with their reasons.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from flickrexif.cli.errors import reported_errors
from flickrexif.cli.options import new_app, progress_bar, say_removed, stderr, version_option
from flickrexif.publish.manifest import ReleaseError, parse_version
from paircams.ingest import (
    DEFAULT_TOLERANCE_S,
    REPORT_TXT,
    STATUSES,
    IngestConfig,
    IngestProgress,
    Layout,
    ingest,
)

app = new_app("PairCams: pairs of photos of one subject, one from a smartphone and one from a camera.")
VersionOption = version_option("paircams")
stdout = Console(soft_wrap=True)
MAX_LISTED = 20  # problem files printed per status; the report files hold them all


@app.callback(invoke_without_command=True)
def main(version: VersionOption = False) -> None:
    """PairCams command line."""


@app.command("ingest")
def ingest_command(
    source: Annotated[Path, typer.Argument(help="Folder of photos: one sub-folder per subject, or all in one folder.")],
    out: Annotated[Path, typer.Option("--out", help="Ingested folder (pairs.json, report); re-use it to keep ids.")],
    layout: Annotated[
        Layout,
        typer.Option(
            help="folders: one sub-folder per subject; flat: pair by capture time; "
            "auto: folders if a sub-folder holds photos."
        ),
    ] = Layout.auto,
    tolerance: Annotated[
        float, typer.Option(help="Flat layout: most seconds between a pair's two capture times.")
    ] = DEFAULT_TOLERANCE_S,
    allow_same_kind: Annotated[
        bool, typer.Option("--allow-same-kind", help="Accept two smartphones or two cameras as a pair.")
    ] = False,
    allow_same_device: Annotated[
        bool, typer.Option("--allow-same-device", help="Accept two photos from the same make and model as a pair.")
    ] = False,
    copy: Annotated[
        bool,
        typer.Option("--copy", help="Copy the paired photos into OUT/photos, so a release no longer needs SOURCE."),
    ] = False,
    verify_decode: Annotated[
        bool, typer.Option(help="Decode every photo's pixels to catch truncated files (slower on large photos).")
    ] = True,
) -> None:
    """Read, validate and pair the photos under SOURCE; write OUT/pairs.json and OUT/report.{txt,json}.

    JPEG and HEIC/HEIF photos are read; a pair is one smartphone photo and one camera photo from two
    different devices unless told otherwise. Unpaired, ambiguous, invalid and ignored files are
    listed with reasons and never stop the run. Subject ids in OUT are kept when ingesting again.
    """
    try:
        config = IngestConfig(
            source,
            out,
            layout,
            tolerance,
            require_phone_and_camera=not allow_same_kind,
            require_different_devices=not allow_same_device,
            copy_files=copy,
            verify_decode=verify_decode,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--tolerance") from None
    with progress_bar() as progress:
        task = progress.add_task("Reading photos", total=None)

        def show(step: IngestProgress) -> None:
            progress.update(task, total=step.total, completed=step.done)

        with reported_errors(heading="Cannot ingest:", stop=progress.stop):
            result = ingest(config, on_progress=show)
    counts = result.counts()
    table = Table(title=escape(f"PairCams ingest of {source} ({result.layout} layout)"))
    table.add_column("files", justify="right")
    table.add_column("pairs", justify="right", style="green")
    for status in STATUSES:
        table.add_column(status, justify="right", style="yellow" if status != "invalid" else "red")
    table.add_row(*(str(counts[name]) for name in ("files", "pairs", *STATUSES)))
    stdout.print(table)
    for status in STATUSES:
        listed = [p for p in result.problems if p.status == status]
        for problem in listed[:MAX_LISTED]:
            stdout.print(f"  {status}: {problem.path}: {problem.reason}", markup=False, highlight=False)
        if len(listed) > MAX_LISTED:
            stdout.print(f"  ... and {len(listed) - MAX_LISTED} more {status} files")
    ids = result.ids
    stdout.print(f"subject ids: {ids.kept} kept, {ids.new} new, {ids.revived} revived, {ids.retired} retired")
    stdout.print(f"report: {out / REPORT_TXT}", markup=False, highlight=False)
    if not result.subjects:
        stderr.print("[red]No valid pair was found[/red]; see the report for why each file was left out.")
        raise typer.Exit(code=1)


@app.command("release")
def release_command(
    ingested: Annotated[Path, typer.Argument(help="Folder written by `paircams ingest`.")],
    out: Annotated[Path, typer.Option("--out", help="Releases folder; the release goes into OUT/vX.Y.Z/.")],
    version: Annotated[str, typer.Option("--version", help="Release version X.Y.Z (a new one).")],
    note: Annotated[Optional[list[str]], typer.Option("--note", help="A changelog line (repeatable).")] = None,
    license_id: Annotated[str, typer.Option("--license", help="License id for the card's YAML (Hub id).")] = "other",
) -> None:
    """Release an ingested folder as OUT/vX.Y.Z: Parquet shards, card, changelog and manifest.

    The release is written atomically and reproducibly (same photos, same version → same bytes).
    Every photo is checked against the sha256 recorded at ingest.
    """
    from flickrexif.publish.release import release  # datasets is slow to import: only when needed
    from paircams.dataset import PairCamsDataset

    try:
        parse_version(version)
    except ReleaseError as error:
        raise typer.BadParameter(str(error), param_hint="--version") from None
    with progress_bar() as progress:
        task = progress.add_task("Writing rows", total=None)
        with reported_errors(heading="Cannot release:", stop=progress.stop):
            dataset = PairCamsDataset(
                ingested,
                license=license_id,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
            result = release(dataset, out, version, tuple(note or ()), say_removed)
    counts = result.contents.details
    stdout.print(
        f"PairCams v{result.version}: {counts['subjects']} subjects, {counts['rows']} rows in {result.path}",
        markup=False,
        highlight=False,
    )


@app.command("push")
def push_command(
    release_dir: Annotated[Path, typer.Argument(help="A release folder (RELEASES/vX.Y.Z) with its manifest.")],
    repo: Annotated[str, typer.Option("--repo", help="Dataset repository ORG/NAME on the Hub.")],
    endpoint: Annotated[
        Optional[str], typer.Option("--endpoint", envvar="HF_ENDPOINT", help="Hub URL (default: huggingface.co).")
    ] = None,
    private: Annotated[bool, typer.Option("--private", help="Create the repository as private.")] = False,
) -> None:
    """Upload a release in one commit and tag it vX.Y.Z (token from HF_TOKEN).

    Then `load_dataset(ORG/NAME, split="train", revision="vX.Y.Z")` gets exactly that release.
    """
    from flickrexif.publish.hub import PushConfig, push_release

    with reported_errors(heading="Push failed:"):
        result = push_release(PushConfig(release_dir, repo, endpoint=endpoint, private=private))
    stdout.print(
        f"Pushed {len(result.added)} files to {result.repo_id} as {result.tag} (commit {result.commit[:12]}); "
        f"{len(result.deleted)} stale files removed",
        markup=False,
        highlight=False,
    )
