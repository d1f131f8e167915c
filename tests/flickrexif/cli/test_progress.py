"""The shared progress bar when stderr is not a terminal: plain lines, every 30 s and at the end of a task."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import Progress, TextColumn

from flickrexif.cli import options
from flickrexif.cli.options import LineProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def line_progress(*extra, interval: float = 30.0) -> tuple[LineProgress, FakeClock, io.StringIO]:
    clock, out = FakeClock(), io.StringIO()
    console = Console(file=out, width=80, force_terminal=False)
    return LineProgress(*extra, console=console, interval=interval, get_time=clock, ticker=False), clock, out


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_progress_bar_is_plain_lines_off_a_terminal_and_rich_on_one(monkeypatch):
    monkeypatch.setattr(options, "stderr", Console(file=io.StringIO(), force_terminal=False))
    assert isinstance(options.progress_bar(), LineProgress)
    monkeypatch.setattr(options, "stderr", Console(file=io.StringIO(), force_terminal=True))
    bar = options.progress_bar()
    assert type(bar) is Progress and not bar.disable  # the terminal keeps rich's live display


def test_a_line_at_most_every_interval_with_rate_and_eta():
    bar, clock, out = line_progress()
    with bar:
        task = bar.add_task("images", total=5000)
        for _ in range(5):  # 100 images every 10 s
            clock.now += 10
            bar.advance(task, 100)
        assert lines(out) == ["images: 300/5,000 (6%), 10.0/s, 0:00:30 elapsed, ETA 0:07:50"]
        for _ in range(3):
            clock.now += 10
            bar.advance(task, 100)
        assert len(lines(out)) == 2 and lines(out)[1].startswith("images: 600/5,000 (12%), 10.0/s, 0:01:00 elapsed")


def test_a_task_that_reaches_its_total_gets_one_end_line_at_once():
    bar, clock, out = line_progress()
    with bar:
        task = bar.add_task("Writing rows", total=40)
        clock.now += 2
        bar.update(task, completed=40)
        assert lines(out) == ["Writing rows: 40/40 (100%), 20.0/s, 0:00:02 elapsed"]
        clock.now += 120
        bar.update(task, completed=40)
        bar.tick()
    assert len(lines(out)) == 1  # neither the updates, the ticker nor the stop repeat it


def test_a_silent_task_still_gets_a_line_every_interval_from_the_ticker():
    bar, clock, out = line_progress()
    with bar:
        task = bar.add_task("probe-acquisition Make", total=None)
        bar.advance(task, 64)
        clock.now += 29
        bar.tick()
        assert lines(out) == []
        clock.now += 1
        bar.tick()
        clock.now += 30
        bar.tick()
    assert lines(out)[:2] == [
        "probe-acquisition Make: 64, 2.1/s, 0:00:30 elapsed",
        "probe-acquisition Make: 64, 1.1/s, 0:01:00 elapsed",
    ]
    assert len(lines(out)) == 2  # the stop adds nothing: the last line already shows where it ended


def test_stopping_shows_where_an_unfinished_task_ended():
    bar, clock, out = line_progress()
    with bar:
        task = bar.add_task("images", total=None)
        clock.now += 4
        bar.update(task, advance=10, description="PairCams-v1.0.0: retrieval")
    assert lines(out) == ["PairCams-v1.0.0: retrieval: 10, 2.5/s, 0:00:04 elapsed"]
    bar.stop()  # stopped twice (error handlers do): no repeat
    assert len(lines(out)) == 1


def test_extra_text_columns_are_appended_and_a_growing_total_resumes_the_lines():
    bar, clock, out = line_progress(TextColumn("{task.fields[info]}"))
    with bar:
        task = bar.add_task("getExif", total=None, info="")
        clock.now += 1
        bar.update(task, completed=5, total=5, info="kept 5, search pages 1")  # the queue is empty for now
        clock.now += 10
        bar.update(task, completed=6, total=50, info="kept 6, search pages 2")  # a new page of results
        assert len(lines(out)) == 1
        clock.now += 30
        bar.update(task, completed=20, total=50, info="kept 20, search pages 2")
    assert lines(out)[0] == "getExif: 5/5 (100%), 5.0/s, 0:00:01 elapsed, kept 5, search pages 1"
    assert lines(out)[1].startswith("getExif: 20/50 (40%), ") and lines(out)[1].endswith(", kept 20, search pages 2")
    assert "ETA" in lines(out)[1] and len(lines(out)) == 2


def test_the_background_ticker_starts_and_stops_with_the_bar():
    bar = LineProgress(console=Console(file=io.StringIO()), interval=3600.0)
    with bar:
        assert bar._thread is not None and bar._thread.is_alive()
        thread = bar._thread
    assert bar._thread is None and not thread.is_alive()
