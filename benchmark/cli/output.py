"""What trace-bench commands print: errors (one line, or a bug with its traceback), result lines, the
progress of a sweep and its summary table.  Messages and progress go to stderr, results to stdout."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from benchmark.runs.results import in_percent
from flickrexif.cli.errors import BUG_HINT, EXIT_DATA, TRACE_BENCH_ERRORS, reported_errors
from flickrexif.cli.options import progress_bar, stderr
from flickrexif.cli.writers import table_console, write_table

INTERRUPTED = "Finished embeddings and results are kept; run again with --skip-existing to continue."

# Every trace-bench command's work runs in ``with reported(...)``: a UsageError is one red line and exit
# code 2, anything else a bug with its traceback under a line asking to report it.
reported = functools.partial(reported_errors, table=TRACE_BENCH_ERRORS, bug_hint=BUG_HINT.format(tool="trace-bench"))

__all__ = [
    "INTERRUPTED",
    "ConsoleReporter",
    "print_plan",
    "print_results",
    "print_sweep",
    "reported",
    "show_library_warnings",
    "stderr",
]


class _ConsoleLog(logging.Handler):
    """The library's warnings (a cache file moved aside, a result computed again) as yellow lines."""

    def emit(self, record: logging.LogRecord) -> None:
        stderr.print(f"[yellow]{escape(record.getMessage())}[/yellow]", highlight=False)


def show_library_warnings() -> None:
    """Print what ``benchmark``'s loggers warn about on stderr, once per process."""
    logger = logging.getLogger("benchmark")
    if not any(isinstance(handler, _ConsoleLog) for handler in logger.handlers):
        logger.addHandler(_ConsoleLog(logging.WARNING))
        logger.setLevel(logging.WARNING)


def result_line(result: dict[str, Any]) -> str:
    """One result in a line, naming encoder and dataset: its headline numbers (a mitigation's before ->
    after), each beside the chance it is measured against."""
    from benchmark.tasks.registry import TASKS

    who = f"{result.get('encoder', '?')} on {result.get('dataset', '?')}: {result['task']} {result['target']}"
    who += f" seed {result.get('seed', 0)}"
    if "before" in result and "after" in result:
        before, after = result["before"], result["after"]
        chances = {"probe_accuracy": after.get("chance"), "all-same@k10": after.get("knn_chance")}
        shown = []
        for metric in ("probe_accuracy", "spd_p@k10", "all-same@k10", "spd_a", "recall_same_as_query"):
            if metric in after:
                text = f"{metric} {in_percent(before[metric], metric)} -> {in_percent(after[metric], metric)}"
                chance = chances.get(metric)
                shown.append(text + (f" (chance {in_percent(chance, metric)})" if chance else ""))
        return f"{who} ({result['method']}, rank {result['parameters']['rank']}): " + ", ".join(shown)
    task = TASKS.get(result["task"])
    headline = task.headline_metrics(result) if task else {}
    chance = result["metrics"].get("chance")
    numbers = ", ".join(f"{column} {in_percent(value, column)}" for column, value in headline.items())
    return f"{who}: {numbers}" + (f" (chance {in_percent(chance, 'chance')})" if chance else "")


def print_results(written: list[Path], out: Path) -> None:
    """A line per result file (stdout), then where they are and what each dataset left out (stderr)."""
    skipped: dict[str, dict[str, str]] = {}
    warned: set[str] = set()
    for path in written:
        result = json.loads(path.read_text())
        typer.echo(result_line(result))
        for warning in (result.get("parameters") or {}).get("warnings") or []:
            if warning not in warned:
                warned.add(warning)
                stderr.print(f"[yellow]  {escape(warning)}[/yellow]", highlight=False)
        record = result.get("skipped_images") or {}
        if record.get("count"):
            seen = skipped.setdefault(result.get("dataset", "?"), {})
            seen.update(record.get("first") or {})
            seen["__count__"] = str(max(int(seen.get("__count__", 0)), record["count"]))
    erasers = " (and erasers)" if any(path.with_suffix(".safetensors").is_file() for path in written) else ""
    stderr.print(f"{len(written)} result files{erasers} in {out}")
    for dataset, files in skipped.items():
        count = int(files.pop("__count__"))
        warn_skipped(dataset, count, files, "each result counts and names them under skipped_images")


def written_files(files: Sequence[Path]) -> str:
    """The files a report wrote, in a line: its tables by name, its figures counted (each is a PNG, a PDF
    and an SVG of one name)."""
    figures = {f.stem for f in files if f.suffix in (".png", ".pdf", ".svg")}
    tables = [f.name for f in files if f.suffix not in (".png", ".pdf", ".svg")]
    return ", ".join(tables) + (f" and {len(figures)} figures (PNG, PDF, SVG)" if figures else "")


def warn_skipped(dataset: str, count: int, first: dict[str, str], where: str) -> None:
    """One yellow line: how many images of ``dataset`` were left out, the first three named with why."""
    if not count:
        return
    named = "; ".join(f"{name}: {why}" for name, why in list(first.items())[:3])
    stderr.print(
        f"[yellow]{escape(dataset)}: {count} images could not be read and were left out ({where}): "
        f"{escape(named)}[/yellow]",
        highlight=False,
    )


class ConsoleReporter:
    """A sweep on the console: the encoder loaded, a progress bar per (encoder, dataset), what did not run."""

    def __init__(self) -> None:
        self.bar = None

    def loaded(self, encoder: Any) -> None:
        stderr.print(f"Encoder {encoder.spec.key} ({encoder.weights}), embedding dim {encoder.embed_dim}")

    def not_run(self, name: str, why: str) -> None:
        stderr.print(f"[red]{escape(name)}: not run[/red] ({escape(why)})", highlight=False)

    def skipped(self, name: str, why: str) -> None:
        stderr.print(f"[yellow]{escape(name)}: skipped[/yellow] ({escape(why)})", highlight=False)

    def datasets(self, found: list[tuple[Any, Any]]) -> None:
        """How each dataset was read, once, before any work: its kind, classes, splits, what it skipped."""
        for detected, image_set in found:
            stderr.print(
                f"{escape(detected.label)} ({detected.kind.name}): {escape(image_set.summary())}", highlight=False
            )

    @contextlib.contextmanager
    def progress(self, label: str) -> Iterator[Any]:
        from benchmark.runs.sweep import Progress

        with progress_bar() as bar:
            self.bar = bar
            images = bar.add_task(label, total=None)
            now = {"task": ""}

            def on_task(name: str) -> None:
                now["task"] = name
                bar.update(images, description=f"{label}: {name}")

            def on_step(step: str, total: int | None) -> None:
                description = ": ".join(part for part in (label, now["task"], step) if part)  # no task yet: none
                if total is None:  # no count of its own: the bar stays where the embedding left it
                    bar.update(images, description=description)
                else:
                    bar.update(images, description=description, total=total, completed=0)

            try:
                yield Progress(on_batch=lambda n: bar.advance(images, n), on_task=on_task, on_step=on_step)
            finally:
                self.bar = None

    def stop(self) -> None:
        """Stop the live bar (before an error is printed over it)."""
        if self.bar is not None:
            self.bar.stop()


def _skipped_cell(skipped: dict[str, str]) -> str:
    """``zeroshot (4): <the first reason>``: the tasks an encoder could not do, and why."""
    if not skipped:
        return ""
    tasks = sorted({what.split()[0] for what in skipped})
    return f"{', '.join(tasks)} ({len(skipped)}): {next(iter(skipped.values())).splitlines()[0]}"


def print_sweep(outcomes: list[Any], record: Path) -> None:
    """The sweep's table: every (encoder, dataset), its result files or why it has none; exit 1 if any failed."""
    rows = [
        {
            "encoder": o.encoder,
            "dataset": o.dataset,
            "results": o.results,
            "error": (o.error or "").splitlines()[0] if o.error else "",
            "skipped": _skipped_cell(o.skipped),
        }
        for o in outcomes
    ]
    columns = {
        "encoder": "encoder",
        "dataset": "dataset",
        "results": "results",
        "error": "not run because",
        "skipped": "skipped",
    }
    failed = sum(1 for o in outcomes if o.error)
    write_table(rows, columns, table_console(), title=f"Sweep: {len(outcomes) - failed} of {len(outcomes)} ran")
    if failed:
        stderr.print(f"{failed} (encoder, dataset) pairs did not run; see {record}")
        raise typer.Exit(code=EXIT_DATA)


def size_text(count: float) -> str:
    """Bytes as a person reads them (1.2 GB)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"


def time_text(seconds: float) -> str:
    """Seconds as a person reads them (45 s, 12 min, 3.5 h, 2.1 days)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"


def counted(count: int, noun: str) -> str:
    """``1 encoder``, ``3 encoders``."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def print_plan(plan: Any, as_json: bool = False) -> None:
    """``run --plan``: the sweep's work and its estimated time (stdout), a disk that cannot hold it in red."""
    found = plan.to_json()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
    else:
        work = plan.work
        lines = [
            f"Sweep plan: {counted(found['encoders'], 'encoder')} x {counted(found['datasets'], 'dataset')}, tasks "
            f"{', '.join(found['tasks'])}: {counted(found['results'], 'result')}",
            f"  input geometries     {found['geometries']} ({counted(len(found['cohorts']), 'cohort')} of encoders "
            "held together)",
            f"  images to decode     {work.source_images:,}",
            f"  processings          {work.processings:,} (JPEG re-encodes, sharpening, resizing of full images)",
            f"  inputs to process    {work.processed_inputs:,} (uint8 crops, one per input geometry)",
            f"  forward passes       {work.forward_passes:,} to compute, {work.cached_forward_passes:,} in the cache",
            f"  embedding cache      {size_text(work.cache_bytes)} to write in {plan.cache} "
            f"({size_text(plan.free_bytes)} free)",
        ]
        for dataset in found["per_dataset"]:
            lines.append(
                f"    {dataset['dataset']}: {dataset['images']:,} images, {dataset['source_images']:,} decoded, "
                f"{dataset['processed_inputs']:,} inputs, {dataset['forward_passes']:,} forward passes"
            )
        parts = ", ".join(f"{part} {time_text(seconds)}" for part, seconds in plan.seconds.items())
        lines.append(
            f"  estimated time       {time_text(plan.estimated_seconds)} on this machine ({plan.device}): {parts}"
        )
        typer.echo("\n".join(lines))
        for note in found["notes"]:
            stderr.print(f"[yellow]{escape(note)}[/yellow]", highlight=False)
    if plan.work.cache_bytes > plan.free_bytes:
        stderr.print(
            f"[red]The embedding cache needs {size_text(plan.work.cache_bytes)} but {plan.cache} has "
            f"{size_text(plan.free_bytes)} free[/red]: free disk, or give --cache a larger disk.",
            highlight=False,
        )
