"""What the three command lines (flickrexif, paircams, trace-bench) share: options, stderr, progress bar."""

from __future__ import annotations

import threading
from collections.abc import Callable
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
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

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
    """The commands' progress bar on stderr: description, bar, done/total, ``extra`` columns, elapsed, ETA.

    Transient by default: it vanishes when done, leaving the command's own summary lines.  When
    stderr is not a terminal (a log file, a pipe, CI), where rich's live display prints nothing,
    it is a :class:`LineProgress` instead: a plain line per task every 30 s and when a task ends.
    """
    if not (stderr.is_terminal or stderr.is_jupyter):
        return LineProgress(*extra, console=stderr)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=transient,
    )


PROGRESS_LINE_INTERVAL_S = 30.0


class LineProgress(Progress):
    """A progress bar for a stderr that is not a terminal: plain lines such as
    ``images: 1,234/5,000 (25%), 2.1/s, 0:09:52 elapsed, ETA 0:29:31``.

    A running task gets a line every ``interval`` seconds, checked on each update and by a
    background ticker, so a step that reports nothing for minutes still shows it is alive (and
    how long it has run).  A task also gets a line when it first reaches its total and, if it
    changed since its last line, when the bar stops.  The text of ``extra`` columns (such as
    ``TextColumn("{task.fields[info]}")``) is appended.  ``get_time`` is the clock (tests pass a
    fake one); ``ticker=False`` leaves the checks to the updates and :meth:`tick`.
    """

    def __init__(
        self,
        *extra: ProgressColumn,
        console: Console,
        interval: float = PROGRESS_LINE_INTERVAL_S,
        get_time: Callable[[], float] | None = None,
        ticker: bool = True,
    ) -> None:
        super().__init__(*extra, console=console, disable=True, get_time=get_time)
        self.interval = interval
        self._extra = extra
        self._said_at: dict[TaskID, float] = {}  # when the task's last line was printed (or it was added)
        self._said_state: dict[TaskID, tuple[Any, ...]] = {}  # its state then
        self._finished_once: set[TaskID] = set()
        self._say_lock = threading.RLock()
        self._ticker = ticker
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._ticker and self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._tick_forever, name="progress-lines", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
        for task in self.tasks:  # where each task ended, unless its last line already says so
            if task.visible and self._said_state.get(task.id) != _state(task):
                self._say(task)

    def add_task(self, *args: Any, **kwargs: Any) -> TaskID:
        task_id = super().add_task(*args, **kwargs)
        self._said_at[task_id] = self.get_time()
        return task_id

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._check(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._check(task_id)

    def tick(self) -> None:
        """Print the line of each task that is due one (what the background ticker calls)."""
        for task in self.tasks:
            self._check(task.id)

    def _tick_forever(self) -> None:
        while not self._stopping.wait(min(self.interval, 1.0)):
            self.tick()

    def _check(self, task_id: TaskID) -> None:
        with self._lock:
            task = self._tasks.get(task_id)
        if task is None or not task.visible:
            return
        if task.finished:
            # Its end, once; a total that grows again (a crawl's queue) makes it a running task again.
            if task_id not in self._finished_once:
                self._finished_once.add(task_id)
                self._say(task)
                return
            if self._said_state.get(task_id) == _state(task):
                return  # done and already said: no repeats
        if self.get_time() - self._said_at.get(task_id, 0.0) >= self.interval:
            self._say(task)

    def _say(self, task: Task) -> None:
        with self._say_lock:
            self._said_at[task.id] = self.get_time()
            self._said_state[task.id] = _state(task)
            line = self.line(task)
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def line(self, task: Task) -> str:
        """``description: done/total (pct%), rate/s, elapsed, ETA`` and the text of the extra columns."""
        done = task.completed
        parts = [f"{done:,.0f}/{task.total:,.0f} ({task.percentage:.0f}%)" if task.total else f"{done:,.0f}"]
        elapsed = task.finished_time if task.finished_time is not None else task.elapsed
        speed = task.finished_speed or task.speed or (done / elapsed if done and elapsed else None)
        if speed:
            parts.append(f"{speed:,.1f}/s" if speed < 100 else f"{speed:,.0f}/s")
        if elapsed is not None:
            parts.append(f"{_clock(elapsed)} elapsed")
        if task.total and speed and done < task.total:
            parts.append(f"ETA {_clock((task.total - done) / speed)}")
        for column in self._extra:
            rendered = column.render(task)
            text = rendered.plain if isinstance(rendered, Text) else rendered if isinstance(rendered, str) else ""
            if text.strip():
                parts.append(text.strip())
        return f"{task.description}: {', '.join(parts)}"


def _state(task: Task) -> tuple[Any, ...]:
    """What a line shows apart from the clock: a line is repeated only when this changed."""
    return (task.description, task.completed, task.total, tuple(sorted(map(str, task.fields.items()))))


def _clock(seconds: float) -> str:
    """``H:MM:SS``, as rich's elapsed column."""
    whole = max(0, int(round(seconds)))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def say_removed(path: Path, size: int) -> None:
    """One line per stale partial folder a build or release removed (``on_removed`` of ``release``)."""
    stderr.print(
        f"Removed {escape(str(path))} ({size / 1e6:.1f} MB), left by a build or release that was killed",
        highlight=False,
    )
