"""Option definitions shared by the three command lines (flickrexif, paircams, trace-bench)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from flickrexif import __version__


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

