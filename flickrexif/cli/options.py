"""What the three command lines (flickrexif, paircams, trace-bench) share: options, stderr, progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from flickrexif import __version__

# Messages, progress and errors go to stderr so stdout stays the command's data (tables, JSON).
stderr = Console(stderr=True, soft_wrap=True)


def version_option(program: str) -> Any:
    """An eager ``--version`` option that prints ``<program> <version>`` and exits."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{program} {__version__}")
            raise typer.Exit()

    return Annotated[bool, typer.Option("--version", callback=show, is_eager=True, help="Print the version and exit.")]


def new_app(help_text: str) -> typer.Typer:
    """A Typer app with the project's defaults: help when called bare, no shell-completion noise."""
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False, rich_markup_mode="markdown")


def progress_bar(*extra: ProgressColumn, transient: bool = True) -> Progress:
    """The commands' progress bar on stderr: description, bar, done/total, ``extra`` columns, elapsed.

    Transient by default: it vanishes when done, leaving the command's own summary lines.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        console=stderr,
        transient=transient,
    )


def say_removed(path: Path, size: int) -> None:
    """One line per stale partial folder a build or release removed (``on_removed`` of ``release``)."""
    stderr.print(
        f"Removed {escape(str(path))} ({size / 1e6:.1f} MB), left by a build or release that was killed",
        highlight=False,
    )
