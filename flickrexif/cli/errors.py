"""The one map from exceptions to what the user reads and the exit code, for all three command lines.

``flickrexif``, ``paircams`` and ``trace-bench`` wrap the work that can fail as asked in
``with reported_errors(...):``.  A raised exception found in :data:`ERRORS` becomes one red line
on stderr and ``typer.Exit(code)``; anything else propagates, so a real bug keeps its traceback.
Ctrl-C becomes a yellow ``Interrupted.`` line with the command's own resume hint and exit 130.

Exit codes: 0 success; 1 the data did not allow the work; 2 the command cannot run as asked;
130 interrupted.  Typer's own errors (``typer.BadParameter`` for an option value, ``typer.Exit``)
are never mapped: Typer prints them.

The table is keyed by *where each exception is imported from* (``"module.Class"``), not by the
class itself: ``flickrexif.cli`` must not import ``paircams`` or ``benchmark`` (they import it),
and importing this module must not pull in torch, datasets or flickrapi.  A key is matched only
once its module is loaded, which it is whenever one of its exceptions has been raised.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import click
import typer
from rich.markup import escape

from flickrexif.cli.options import stderr

EXIT_DATA = 1  # the data did not allow the work (e.g. a photo changed since ingest)
EXIT_USAGE = 2  # the command cannot run as asked
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


@dataclass(frozen=True)
class ErrorReport:
    """How one kind of exception reaches the user: ``[red]heading[/red] detail hint``, then exit ``code``.

    Without a heading the whole detail is red.  ``detail`` is a ``str.format`` template over the
    exception (``{error}`` is its message; attributes work: ``{error.code}``).
    """

    code: int = EXIT_USAGE
    heading: str | None = None
    hint: str | None = None
    detail: str = "{error}"


# Every exception a command reports instead of crashing.  Subclasses win over their bases
# (PhotoChangedError over IngestError, CredentialsError over ValueError): see :func:`lookup`.
ERRORS: dict[str, ErrorReport] = {
    # flickrexif
    "flickrexif.crawl.credentials.CredentialsError": ErrorReport(),
    "flickrexif.crawl.client.FatalFlickrError": ErrorReport(
        heading="Flickr refused the crawl:",
        detail="{error.message} (code {error.code}).",
        hint="Check FLICKR_API_KEY / FLICKR_API_SECRET. Nothing stored was lost.",
    ),
    "flickrexif.dataset.result.BuildError": ErrorReport(),
    "flickrexif.publish.manifest.ReleaseError": ErrorReport(),
    "flickrexif.publish.hub.PushError": ErrorReport(),
    # paircams
    "paircams.ingest.IngestError": ErrorReport(),
    "paircams.ingest.PhotoChangedError": ErrorReport(code=EXIT_DATA),
    # trace-bench
    "benchmark.errors.UsageError": ErrorReport(),
    "benchmark.encoders.MissingWeightsError": ErrorReport(heading="Missing weights:"),
    # the standard library: bad values, unreadable files, a store that is not a database
    "sqlite3.DatabaseError": ErrorReport(),
    "builtins.ValueError": ErrorReport(),
    "builtins.OSError": ErrorReport(),
}

# trace-bench's table: its own errors, and no ``ValueError`` (flickrexif's and paircams' bad-value
# errors are ``ValueError``s; in trace-bench everything the user can cause is a ``UsageError``, so a
# ``ValueError`` there is a bug and keeps its traceback).
TRACE_BENCH_ERRORS: dict[str, ErrorReport] = {
    **{name: report for name, report in ERRORS.items() if name != "builtins.ValueError"},
    # what a too large batch or model runs into: the machine, not a bug
    "builtins.MemoryError": ErrorReport(heading="Out of memory:", hint="Lower --batch-size (and --workers)."),
    "torch.OutOfMemoryError": ErrorReport(heading="Out of GPU memory:", hint="Lower --batch-size."),
}
BUG_HINT = (
    "{tool} stopped on an unexpected error, a bug: please report it with the command you ran and the traceback below."
)

# Typer's own exceptions carry their own message and code; never turn them into ours.
_TYPER_OWN: tuple[type[BaseException], ...] = (
    click.exceptions.ClickException,
    click.exceptions.Exit,
    click.exceptions.Abort,
    typer.Exit,  # Typer's own classes (newer Typers vendor click: these are not click's)
    typer.Abort,
    getattr(typer.exceptions, "TyperException", typer.Exit),
)


def _loaded_class(name: str) -> type[BaseException] | None:
    """The class ``name`` points at if its module is already imported (importing here could be slow)."""
    module_name, _, attribute = name.rpartition(".")
    found = getattr(sys.modules.get(module_name), attribute, None)
    return found if isinstance(found, type) and issubclass(found, BaseException) else None


def lookup(error: BaseException, table: dict[str, ErrorReport] | None = None) -> ErrorReport | None:
    """The entry of the most specific class in ``error``'s MRO that ``table`` (default :data:`ERRORS`)
    names; None if unmapped."""
    if isinstance(error, _TYPER_OWN):
        return None
    mro = type(error).__mro__
    best: tuple[int, ErrorReport] | None = None
    for name, report in (ERRORS if table is None else table).items():
        cls = _loaded_class(name)
        if cls is not None and cls in mro and (best is None or mro.index(cls) < best[0]):
            best = (mro.index(cls), report)
    return best[1] if best else None


def error_message(error: BaseException, report: ErrorReport, heading: str | None = None) -> str:
    """The rich-markup line for ``error``; the entry's heading wins over the command's ``heading``.

    Exception text is escaped: a message naming a ``[flickr]`` table must print the brackets.
    """
    heading = report.heading or heading
    detail = escape(report.detail.format(error=error))
    line = f"[red]{escape(heading)}[/red] {detail}" if heading else f"[red]{detail}[/red]"
    return f"{line} {report.hint}" if report.hint else line


def exit_for(
    error: BaseException,
    *,
    heading: str | None = None,
    stop: Callable[[], object] | None = None,
    table: dict[str, ErrorReport] | None = None,
) -> NoReturn:
    """Print ``error`` on stderr as ``table`` (default :data:`ERRORS`) says and raise ``typer.Exit``
    with its code.

    ``stop`` (a progress bar's) runs first so the line is not drawn over.  An unmapped ``error`` is
    raised again as it is.
    """
    report = lookup(error, table)
    if report is None:
        raise error
    if stop is not None:
        stop()
    stderr.print(error_message(error, report, heading))
    raise typer.Exit(code=report.code) from None


@contextmanager
def reported_errors(
    *,
    heading: str | None = None,
    interrupted: str | None = None,
    stop: Callable[[], object] | None = None,
    table: dict[str, ErrorReport] | None = None,
    bug_hint: str | None = None,
) -> Iterator[None]:
    """Report mapped exceptions raised in the block and exit; let the others through.

    ``heading``: the red prefix for entries without their own (``"Cannot release:"``).
    ``interrupted``: the resume hint after ``Interrupted.`` on Ctrl-C (exit 130); without it Ctrl-C
    propagates as before.  ``stop``: called before printing (a live progress bar's ``stop``).
    ``table``: the map to use (default :data:`ERRORS`; trace-bench: :data:`TRACE_BENCH_ERRORS`).
    ``bug_hint``: printed before an unmapped exception goes on with its traceback.
    """
    try:
        yield
    except KeyboardInterrupt:
        if interrupted is None:
            raise
        if stop is not None:
            stop()
        stderr.print(f"[yellow]Interrupted.[/yellow] {interrupted}")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except Exception as error:
        if isinstance(error, _TYPER_OWN):  # an exit already decided, or Typer's own message
            raise
        if lookup(error, table) is None:
            if bug_hint is not None and not getattr(error, "_bug_reported", False):
                if stop is not None:
                    stop()
                stderr.print(f"[red]{escape(bug_hint)}[/red]")
                error._bug_reported = True  # nested blocks print it once
            raise
        exit_for(error, heading=heading, stop=stop, table=table)
