"""The crawl commands end to end: kill and resume, status, export, download, secrets."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flickrexif.cli.app import app
from flickrexif.testing import FlickrStandin, generate_photos

SECRET = "s3cret-never-in-any-output-0xC0FFEE"
runner = CliRunner()


def crawl_args(db, *extra):
    return [
        "crawl",
        "--db",
        str(db),
        "--min-taken-date",
        "2009-01-01",
        "--max-taken-date",
        "2025-01-01",
        "--max-per-user-month",
        "2",
        "--workers",
        "4",
        "--rate",
        "1000000",
        "--result-cap",
        "150",
        *extra,
    ]


def env_for(standin, **extra):
    return {"FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": SECRET, "FLICKR_API_URL": standin.api_url, **extra}


def content(db):
    """Photos and search windows, without timestamps, attempts and call counters."""
    connection = sqlite3.connect(db)
    photos = connection.execute(
        "SELECT id, seq, owner, month, status, exif, labels, exif_raw, error FROM photos ORDER BY id"
    ).fetchall()
    windows = connection.execute("SELECT * FROM search_windows ORDER BY min_taken").fetchall()
    connection.close()
    return photos, windows


def outcomes(db) -> int:
    """Photos whose getExif answer is stored (0 while the database does not exist yet)."""
    if not Path(db).is_file():
        return 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(
            "SELECT COUNT(*) FROM photos WHERE status NOT IN ('pending', 'capped', 'filtered')"
        ).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is being created
        return 0
    finally:
        connection.close()


def wait_for_progress(process, db, beyond: int) -> bool:
    """Wait until more than ``beyond`` outcomes are stored; False if the process ended first.

    Interrupting on observed progress rather than after fixed delays makes every interruption land in
    the middle of the work, however fast or loaded the machine is.
    """
    while process.poll() is None:
        if outcomes(db) > beyond:
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="module")
def photos():
    return generate_photos(400, seed=21, owners=30)


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_gives_the_same_database(photos, tmp_path):
    with FlickrStandin(photos, latency_s=0.03, max_results=150) as standin:
        env = {**os.environ, **env_for(standin)}
        reference = tmp_path / "reference.db"
        args = [sys.executable, "-m", "flickrexif", *crawl_args(reference)]
        subprocess.run(args + ["--workers", "2"], env=env, check=True, capture_output=True, timeout=120)

        killed = tmp_path / "killed.db"
        args = [sys.executable, "-m", "flickrexif", *crawl_args(killed)]
        kills = 0
        for _ in range(6):  # each run is killed once it has stored a few more outcomes than the last
            before = outcomes(killed)
            process = subprocess.Popen(
                args + ["--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if wait_for_progress(process, killed, before + 8):
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait()
        finished = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stderr
    assert kills >= 3, "the crawl finished before it could be killed; make it slower"
    assert content(killed) == content(reference)


def test_ctrl_c_stops_cleanly_and_resumes(photos, tmp_path):
    with FlickrStandin(photos[:200], latency_s=0.05, max_results=150) as standin:
        env = {**os.environ, **env_for(standin)}
        db = tmp_path / "c.db"
        process = subprocess.Popen(
            [sys.executable, "-m", "flickrexif", *crawl_args(db)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if wait_for_progress(process, db, 5):
            process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            pytest.skip("the crawl finished before Ctrl-C")
        assert process.returncode == 130
        assert "run the same command to resume" in err
        result = runner.invoke(app, crawl_args(db), env=env_for(standin))
        assert result.exit_code == 0, result.output


def test_status_export_download_and_no_secret_anywhere(photos, tmp_path):
    population = photos[:120]
    with FlickrStandin(population, max_results=150) as standin:
        db = tmp_path / "c.db"
        crawl = runner.invoke(app, crawl_args(db), env=env_for(standin))
        assert crawl.exit_code == 0, crawl.output
        assert "Crawl finished" in crawl.stderr

        status = runner.invoke(app, ["status", "--db", str(db), "--json"])
        summary = json.loads(status.stdout)
        assert summary["photos_kept"] > 0
        assert summary["api_calls"]["flickr.photos.getExif"] == standin.calls["flickr.photos.getExif"]
        assert summary["api_calls"]["flickr.photos.search"] == standin.calls["flickr.photos.search"]
        assert set(summary["errors"]) <= {"exif_hidden", "exif_not_found", "no_camera_exif", "getexif_failed"}
        table = runner.invoke(app, ["status", "--db", str(db)])
        assert "API calls per kept photo" in table.stdout

        export = runner.invoke(app, ["export", "--db", str(db)])
        rows = [json.loads(line) for line in export.stdout.splitlines()]
        assert len(rows) == summary["photos_seen"]
        kept = [r for r in rows if r["status"] == "kept"]
        assert {"id", "owner", "date_taken", "license", "status", "make", "labels", "download_status"} <= set(kept[0])
        csv_export = runner.invoke(app, ["export", "--db", str(db), "--format", "csv"])
        assert csv_export.stdout.splitlines()[0].startswith("id,owner,")

        out = tmp_path / "images"
        standin.set_faults(0.2, ("http503", "reset", "truncated"))
        download = runner.invoke(app, ["download", "--db", str(db), "--out", str(out)])
        assert download.exit_code == 0, download.output
        standin.set_faults(0.0)
        again = runner.invoke(app, ["download", "--db", str(db), "--out", str(out)])
        assert again.exit_code == 0

    by_id = {p.id: p for p in population}
    done = [
        r for r in json.loads(runner.invoke(app, ["status", "--db", str(db), "--json"]).stdout)["downloads"].items()
    ]
    assert dict(done).get("done", 0) == summary["photos_kept"]
    connection = sqlite3.connect(db)
    for photo_id, size, path, sha256, nbytes in connection.execute(
        "SELECT id, download_size, download_path, download_sha256, download_bytes FROM photos WHERE status = 'kept'"
    ):
        data = (out / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256 and len(data) == nbytes
        original = by_id[photo_id].original
        if original is None:
            assert size == "Large"
        else:
            assert size == "Original" and data == original  # untouched bytes
    connection.close()
    assert not list(out.rglob("*.part"))

    outputs = crawl.output + status.output + table.output + export.output + download.output
    assert SECRET not in outputs
    for file in tmp_path.glob("c.db*"):
        assert SECRET.encode() not in file.read_bytes()


def test_missing_credentials_and_bad_dates_are_clear(tmp_path):
    env = {"FLICKR_API_KEY": "", "FLICKR_API_SECRET": "", "FLICKREXIF_CONFIG": str(tmp_path / "none.toml")}
    result = runner.invoke(app, ["crawl", "--db", str(tmp_path / "c.db")], env=env)
    assert result.exit_code == 2 and "FLICKR_API_KEY" in result.stderr
    result = runner.invoke(app, ["crawl", "--db", str(tmp_path / "c.db"), "--min-taken-date", "June"], env=env)
    assert result.exit_code == 2 and "is not a date" in result.output


def test_config_file_credentials(tmp_path, photos):
    config = tmp_path / "config.toml"
    config.write_text(f'[flickr]\napi_key = "test-key"\napi_secret = "{SECRET}"\n')
    with FlickrStandin(photos[:30], max_results=150) as standin:
        env = {"FLICKR_API_KEY": "", "FLICKR_API_SECRET": "", "FLICKR_API_URL": standin.api_url}
        result = runner.invoke(app, crawl_args(tmp_path / "c.db", "--config", str(config)), env=env)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output


def test_invalid_key_message(tmp_path, photos):
    with FlickrStandin(photos[:30]) as standin:
        env = {**env_for(standin), "FLICKR_API_KEY": "not-a-key"}
        result = runner.invoke(app, crawl_args(tmp_path / "c.db"), env=env)
    assert result.exit_code == 2
    assert "Invalid API Key" in result.stderr and "code 100" in result.stderr


def test_status_of_missing_db(tmp_path):
    result = runner.invoke(app, ["status", "--db", str(tmp_path / "nope.db")])
    assert result.exit_code == 2 and "No crawl database" in result.stderr


def test_download_records_undecodable_files(tmp_path, photos):
    population = [p for p in photos[:40] if p.original is not None]
    broken = population[0]
    broken.original = broken.original[:200] + b"\x00" * 50  # a JPEG cut short: does not decode
    with FlickrStandin(population, max_results=150) as standin:
        db = tmp_path / "c.db"
        assert runner.invoke(app, crawl_args(db), env=env_for(standin)).exit_code == 0
        result = runner.invoke(app, ["download", "--db", str(db), "--out", str(tmp_path / "img")])
        assert result.exit_code == 0, result.output
    row = (
        sqlite3.connect(db)
        .execute("SELECT status, download_status, download_error FROM photos WHERE id = ?", (broken.id,))
        .fetchone()
    )
    assert row[0] == "kept", "the broken photo should have been kept by the crawl"
    assert row[1] == "failed" and "does not decode" in row[2]
    assert not list(Path(tmp_path / "img").rglob("*.part"))


def test_resuming_without_an_end_date_reuses_the_first_runs_end(photos, tmp_path):
    with FlickrStandin(photos[:60], max_results=150) as standin:
        db = tmp_path / "c.db"
        args = ["crawl", "--db", str(db), "--min-taken-date", "2009-01-01", "--rate", "1000000", "--result-cap", "150"]
        assert runner.invoke(app, args, env=env_for(standin)).exit_code == 0
        searches = standin.calls["flickr.photos.search"]
        assert runner.invoke(app, args, env=env_for(standin)).exit_code == 0
        assert standin.calls["flickr.photos.search"] == searches  # the same search: nothing to page again
        windows = sqlite3.connect(db).execute("SELECT COUNT(DISTINCT query) FROM search_windows").fetchone()[0]
    assert windows == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": ""}, "no Flickr API secret: set FLICKR_API_SECRET,"),
        ({"FLICKR_API_KEY": "", "FLICKR_API_SECRET": SECRET}, "no Flickr API key: set FLICKR_API_KEY,"),
        ({"FLICKR_API_KEY": "", "FLICKR_API_SECRET": ""}, "no Flickr API key or secret: set FLICKR_API_KEY and"),
    ],
)
def test_credentials_message_names_what_is_missing_and_keeps_the_table_name(tmp_path, env, message):
    env = {**env, "FLICKREXIF_CONFIG": str(tmp_path / "none.toml")}
    result = runner.invoke(app, ["crawl", "--db", str(tmp_path / "c.db")], env=env)
    text = " ".join(result.stderr.split())  # rich wraps long lines
    assert result.exit_code == 2 and message in text
    assert "[flickr] table" in text and SECRET not in result.output
    assert not (tmp_path / "c.db").exists()


@pytest.mark.parametrize(
    "command",
    [["status"], ["export"], ["download", "--out", "photos"], ["build", "--images", "i", "--out", "built"],
     ["release", "--images", "i", "--out", "releases", "--version", "1.0.0"]],
)  # fmt: skip
def test_a_mistyped_db_is_an_error_and_creates_nothing(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [command[0], "--db", "crawl-typo.db", *command[1:]])
    assert result.exit_code == 2 and "No crawl database at crawl-typo.db" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no empty database, no output folder


def test_status_prints_long_and_bracketed_labels_fast_and_verbatim(tmp_path, photos, monkeypatch):
    from flickrexif.cli import app as cli

    db = tmp_path / "c.db"
    with FlickrStandin(photos[:30], max_results=150) as standin:
        assert runner.invoke(app, crawl_args(db), env=env_for(standin)).exit_code == 0
    real = cli.crawl_status
    long_label = "Model 1.2 (x) 0xFF [red]not markup[/red] " * 25_000  # ~1 MB of label text

    def with_odd_labels(store):
        summary = real(store)
        summary["labels"]["Model"] = {long_label: 3, "[bold]Cam[/bold]": 2}
        return summary

    monkeypatch.setattr(cli, "crawl_status", with_odd_labels)
    started = time.monotonic()
    result = runner.invoke(app, ["status", "--db", str(db)])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert "[bold]Cam[/bold] (2)" in result.stdout and "[red]not markup[/red]" in result.stdout
    assert elapsed < 3, f"status took {elapsed:.1f} s"  # highlighting this label takes several seconds
