"""The error map of the three command lines: each mapped exception's message and exit code, Ctrl-C,
and that anything unmapped (a bug, Typer's own errors) still propagates."""

from __future__ import annotations

import importlib
import sqlite3
import subprocess
import sys

import pytest
import typer

from benchmark.encoders import MissingWeightsError
from benchmark.errors import UsageError
from flickrexif.cli.errors import BUG_HINT, ERRORS, TRACE_BENCH_ERRORS, lookup, reported_errors
from flickrexif.crawl.client import FatalFlickrError, FlickrApiError
from flickrexif.crawl.credentials import CredentialsError
from flickrexif.dataset.result import BuildError
from flickrexif.publish.hub import PushError
from flickrexif.publish.manifest import ReleaseError
from paircams.ingest import IngestError, PhotoChangedError


def resolve(name: str) -> type:
    module, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_every_name_in_the_table_is_an_importable_exception_class(name):
    """A module move that drops a name fails here instead of silently turning a message into a traceback."""
    cls = resolve(name)
    assert isinstance(cls, type) and issubclass(cls, BaseException), name
    assert lookup(cls.__new__(cls)) is ERRORS[name]


# name in the table, the exception, the command's heading, exit code, what stderr must say
CASES = [
    (
        "flickrexif.crawl.credentials.CredentialsError",
        CredentialsError("no Flickr API key: put api_key in a [flickr] table of x.toml"),
        None,
        2,
        "no Flickr API key: put api_key in a [flickr] table of x.toml",
    ),
    (
        "flickrexif.crawl.client.FatalFlickrError",
        FatalFlickrError("flickr.photos.search", 100, "Invalid API Key"),
        None,
        2,
        (
            "Flickr refused the crawl: Invalid API Key (code 100). Check FLICKR_API_KEY / FLICKR_API_SECRET. "
            "Nothing stored was lost."
        ),
    ),
    ("flickrexif.dataset.result.BuildError", BuildError("nothing to build"), None, 2, "nothing to build"),
    (
        "flickrexif.publish.manifest.ReleaseError",
        ReleaseError("release v1.0.0 already exists"),
        "Cannot release:",
        2,
        "Cannot release: release v1.0.0 already exists",
    ),
    (
        "flickrexif.publish.hub.PushError",
        PushError("no token: set HF_TOKEN"),
        "Push failed:",
        2,
        "Push failed: no token: set HF_TOKEN",
    ),
    (
        "paircams.ingest.IngestError",
        IngestError("src is not a folder"),
        "Cannot ingest:",
        2,
        "Cannot ingest: src is not a folder",
    ),
    (
        "paircams.ingest.PhotoChangedError",
        PhotoChangedError("a.jpg changed since it was ingested"),
        "Cannot release:",
        1,
        "Cannot release: a.jpg changed since it was ingested",
    ),
    (
        "benchmark.errors.UsageError",
        UsageError("--batch-size must be >= 1, got 0"),
        None,
        2,
        "--batch-size must be >= 1, got 0",
    ),
    (
        "benchmark.encoders.MissingWeightsError",
        MissingWeightsError("download them with hf"),
        None,
        2,
        "Missing weights: download them with hf",
    ),
    (
        "sqlite3.DatabaseError",
        sqlite3.OperationalError("file is not a database"),
        "Cannot open c.db:",
        2,
        "Cannot open c.db: file is not a database",
    ),
    ("builtins.ValueError", ValueError("unknown encoder 'x'"), None, 2, "unknown encoder 'x'"),
    ("builtins.OSError", FileNotFoundError("no such file: specs.json"), None, 2, "no such file: specs.json"),
]


def test_every_table_entry_has_a_case():
    assert sorted(name for name, *_ in CASES) == sorted(ERRORS)


@pytest.mark.parametrize(("name", "error", "heading", "code", "message"), CASES, ids=[c[0] for c in CASES])
def test_a_mapped_exception_prints_its_message_and_exits_with_its_code(name, error, heading, code, message, capsys):
    stopped = []
    with pytest.raises(typer.Exit) as exit_info, reported_errors(heading=heading, stop=lambda: stopped.append(True)):
        raise error
    assert exit_info.value.exit_code == code
    assert capsys.readouterr().err.strip() == message
    assert stopped == [True], "the progress bar is stopped before the message is printed"
    assert exit_info.value.__suppress_context__, "no traceback of the mapped error"


def test_the_most_specific_entry_wins():
    assert lookup(PhotoChangedError("x")) is ERRORS["paircams.ingest.PhotoChangedError"]
    assert lookup(IngestError("x")) is ERRORS["paircams.ingest.IngestError"]
    assert lookup(MissingWeightsError("x")) is ERRORS["benchmark.encoders.MissingWeightsError"]
    assert lookup(sqlite3.OperationalError("x")) is ERRORS["sqlite3.DatabaseError"]


def test_ctrl_c_prints_the_commands_resume_hint_and_exits_130(capsys):
    stopped = []
    with (
        pytest.raises(typer.Exit) as exit_info,
        reported_errors(interrupted="Run again to resume.", stop=lambda: stopped.append(True)),
    ):
        raise KeyboardInterrupt
    assert exit_info.value.exit_code == 130
    assert capsys.readouterr().err.strip() == "Interrupted. Run again to resume."
    assert stopped == [True]


def test_ctrl_c_propagates_where_the_command_gives_no_resume_hint():
    with pytest.raises(KeyboardInterrupt), reported_errors():
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    "error",
    [RuntimeError("a bug"), KeyError("a bug"), FlickrApiError("m", 1, "x")],
    ids=["RuntimeError", "KeyError", "FlickrApiError"],
)
def test_an_unmapped_exception_propagates_unchanged(error, capsys):
    stopped = []
    with pytest.raises(type(error)) as raised, reported_errors(stop=lambda: stopped.append(True)):
        raise error
    assert raised.value is error
    assert capsys.readouterr().err == "" and stopped == []


@pytest.mark.parametrize(
    "error",
    [typer.BadParameter("bad", param_hint="--tolerance"), typer.Exit(code=3), typer.Abort()],
    ids=["BadParameter", "Exit", "Abort"],
)
def test_typers_own_exceptions_stay_typers(error):
    with pytest.raises(type(error)) as raised, reported_errors():
        raise error
    assert raised.value is error


def test_trace_bench_reports_its_usage_errors_and_keeps_value_errors_as_bugs(capsys):
    hint = BUG_HINT.format(tool="trace-bench")
    with pytest.raises(typer.Exit) as exit_info, reported_errors(table=TRACE_BENCH_ERRORS, bug_hint=hint):
        raise UsageError("no dataset at x")
    assert exit_info.value.exit_code == 2 and capsys.readouterr().err.strip() == "no dataset at x"
    bug = ValueError("a bug that raises ValueError")
    with pytest.raises(ValueError) as raised, reported_errors(table=TRACE_BENCH_ERRORS, bug_hint=hint):
        with reported_errors(table=TRACE_BENCH_ERRORS, bug_hint=hint):  # nested blocks print the hint once
            raise bug
    assert raised.value is bug, "the bug goes on with its traceback"
    assert capsys.readouterr().err.count("a bug: please report it") == 1


def test_an_exit_decided_inside_a_nested_block_is_no_bug(capsys):
    with pytest.raises(typer.Exit), reported_errors(table=TRACE_BENCH_ERRORS, bug_hint="BUG"):
        with reported_errors(table=TRACE_BENCH_ERRORS, bug_hint="BUG"):
            raise UsageError("one line")
    assert capsys.readouterr().err.strip() == "one line"


@pytest.mark.parametrize("name", sorted(set(TRACE_BENCH_ERRORS) - set(ERRORS)))
def test_trace_bench_own_entries_are_importable_exception_classes(name):
    cls = resolve(name)
    assert isinstance(cls, type) and issubclass(cls, BaseException), name
    assert lookup(cls.__new__(cls), TRACE_BENCH_ERRORS) is TRACE_BENCH_ERRORS[name]


def test_running_out_of_memory_is_one_line_with_what_to_lower(capsys):
    with pytest.raises(typer.Exit) as exit_info, reported_errors(table=TRACE_BENCH_ERRORS, bug_hint="BUG"):
        raise MemoryError("cannot allocate 9 GiB")
    assert exit_info.value.exit_code == 2
    assert capsys.readouterr().err.strip() == "Out of memory: cannot allocate 9 GiB Lower --batch-size (and --workers)."


def test_importing_the_map_stays_cheap():
    code = (
        "import sys, flickrexif.cli.errors; "
        "print(sorted(m for m in ('torch', 'datasets', 'flickrapi', 'paircams', 'benchmark') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
