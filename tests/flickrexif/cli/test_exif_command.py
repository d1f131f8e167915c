"""``flickrexif exif`` driven through Typer's CliRunner."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import threading

import pytest
from PIL import Image
from typer.testing import CliRunner

from flickrexif.cli.app import app

runner = CliRunner()

JSONL_KEYS = {
    "path", "make", "make_raw", "model", "is_smartphone", "iso", "f_number", "exposure_time",
    "focal_length_mm", "datetime_original", "flash_fired", "jpeg_quality", "chroma_subsampling",
    "labels", "error",
}  # fmt: skip


def _photo(path, make="NIKON CORPORATION", model="NIKON D70", exposure=(1, 200)):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    exif.get_ifd(0x8769)[0x829A] = exposure
    exif.get_ifd(0x8769)[0x9003] = "2012:07:14 16:30:12"
    Image.new("RGB", (32, 24), (200, 100, 50)).save(path, "JPEG", quality=85, exif=exif)


def test_jsonl_rows_have_the_documented_fields(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("not a photo")  # skipped: not an image extension
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    result = runner.invoke(app, ["exif", str(tmp_path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"].rsplit("/", 1)[-1] for r in rows] == ["a.jpg", "broken.jpg"]
    good, broken = rows
    assert JSONL_KEYS <= set(good)
    assert good["make"] == "Nikon" and good["make_raw"] == "NIKON CORPORATION"
    assert good["exposure_time"] == "1/200" and good["is_smartphone"] is False
    assert good["jpeg_quality"] == 85 and good["chroma_subsampling"] == "4:2:0"
    assert good["labels"]["exposure"] == "1/200" and good["labels"]["year"] == "2012"
    assert good["error"] is None
    assert broken["error"] == "truncated JPEG file: it ends inside its header"
    assert "2 files read, 1 with errors" in result.stderr


def test_csv_flattens_labels(tmp_path):
    _photo(tmp_path / "a.jpg", make="Apple", model="iPhone 6", exposure=(1, 120))
    result = runner.invoke(app, ["exif", str(tmp_path / "a.jpg"), "-f", "csv"])
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(io.StringIO(result.stdout)))
    assert row["make"] == "Apple" and row["is_smartphone"] == "True"
    assert row["label_exposure"] == "1/125" and row["label_smartphone_model"] == "iPhone 6"


def test_table_shows_labels_and_errors(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes(b"garbage")
    result = runner.invoke(app, ["exif", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Nikon" in result.stdout and "1/200" in result.stdout
    assert "not a JPEG, HEIF or TIFF image" in result.stdout


def test_no_images_found_is_an_error(tmp_path):
    result = runner.invoke(app, ["exif", str(tmp_path)])
    assert result.exit_code == 1
    assert "No image files found" in result.stderr


def test_every_real_sample_gets_a_jsonl_row(exif_samples):
    result = runner.invoke(app, ["exif", str(exif_samples), "--format", "jsonl"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) >= 100
    assert sum(r["error"] is None for r in rows) == len(rows)
    assert sum(r["is_smartphone"] is True for r in rows) >= 5


def _deadline(function, fifos=(), seconds=20.0):
    """``function()`` in a thread; a FIFO opened by mistake fails the test instead of hanging it."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(value=function()), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in fifos:  # unblock the stuck reader
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"still running after {seconds:.0f} s: a FIFO was opened")
    return box["value"]


def test_hostile_folder_gives_one_row_per_file(tmp_path):
    _photo(tmp_path / "a.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "broken.jpg").symlink_to("missing.jpg")
    (tmp_path / "up").symlink_to(".")  # a linked folder is not followed
    result = _deadline(lambda: runner.invoke(app, ["exif", str(tmp_path), "-f", "jsonl"]), [tmp_path / "pipe.jpg"])
    assert result.exit_code == 0, result.output
    rows = {
        json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line)["error"] for line in result.stdout.splitlines()
    }
    assert rows == {
        "a.jpg": None,
        "broken.jpg": "broken symbolic link",
        "pipe.jpg": "not a regular file (a FIFO); skipped without opening it",
        "zero.jpg": "not a regular file (a character device); skipped without opening it",
    }


def test_table_shows_file_names_with_brackets_as_they_are(tmp_path):
    _photo(tmp_path / "[red]x.jpg", make="[bold]Canon", model="Canon EOS 40D")
    _photo(tmp_path / "photo[1].jpg")
    (tmp_path / "[link=x]y.jpg").write_bytes(b"[b]garbage[/b]")
    result = runner.invoke(app, ["exif", str(tmp_path)], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "[red]x.jpg" in result.stdout and "photo[1].jpg" in result.stdout
    assert "[link=x]y.jpg" in result.stdout


def test_table_and_jsonl_escape_a_name_that_is_not_utf8(tmp_path):
    _photo(tmp_path / "a.jpg")
    with open(os.fsencode(tmp_path) + b"/\xff\xfe.jpg", "wb") as file:
        file.write((tmp_path / "a.jpg").read_bytes())
    table = runner.invoke(app, ["exif", str(tmp_path)])
    assert table.exit_code == 0, table.output
    assert "\\xff\\xfe.jpg" in table.stdout
    jsonl = runner.invoke(app, ["exif", str(tmp_path), "-f", "jsonl"])
    assert jsonl.exit_code == 0, jsonl.output
    assert [json.loads(line)["path"] for line in jsonl.stdout.splitlines()] == [
        f"{tmp_path}/a.jpg",
        f"{tmp_path}/\\xff\\xfe.jpg",
    ]


def test_table_renders_with_a_symbolic_link_loop(tmp_path):
    _photo(tmp_path / "a.jpg")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    result = runner.invoke(app, ["exif", str(tmp_path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    assert "loop.jpg" in result.stdout and "symbolic link loop" in result.stdout


def test_the_table_shows_each_binned_value_beside_its_class():
    from flickrexif.cli.app import _value_and_class

    row = {
        "exposure_time": "1/1493",
        "f_number": 2.4,
        "iso": 100,
        "focal_length_mm": None,
        "labels": {"exposure": "1/1600", "aperture": "f/2.5", "iso": "100", "focal_length": None},
    }
    shown = _value_and_class(row)
    assert shown["shown_exposure"] == "1/1493 → 1/1600" and shown["shown_aperture"] == "f/2.4 → f/2.5"
    assert shown["shown_iso"] == "100" and shown["shown_focal_length"] == ""  # equal: once; absent: empty
