"""``paircams ingest`` over hostile folders: FIFOs, devices, huge files, link loops, names that are not UTF-8.

Each bad file costs one report line; the run finishes and writes pairs.json with both reports.  A
FIFO must never be opened (the open blocks), so runs go under a deadline that fails instead of
hanging, and ``/dev/zero`` must never be read, so that run goes under a memory cap.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
from datetime import timedelta

import pytest
from hang_guard import finishes
from typer.testing import CliRunner

from paircams.cli import app
from paircams.ingest import (
    PAIRS_NAME,
    REPORT_JSON,
    REPORT_TXT,
    IngestConfig,
    IngestError,
    PhotoChangedError,
    ingest,
    load_ingested,
)

NOT_UTF8 = "its path is not valid UTF-8 (shown with \\x escapes), so pairs.json cannot record it; rename it"


@contextlib.contextmanager
def memory_cap(extra_bytes=1 << 30):
    """At most ``extra_bytes`` more address space, so reading ``/dev/zero`` fails fast instead of eating RAM."""
    with open("/proc/self/statm") as file:
        used = int(file.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (used + extra_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def problems(out):
    report = json.loads((out / REPORT_JSON).read_text(encoding="utf-8"))
    return {p["path"]: (status, p["reason"]) for status, listed in report["problems"].items() for p in listed}


def test_a_fifo_named_jpg_is_invalid_without_being_opened(folders_dir, tmp_path):
    fifo = folders_dir / "s03" / "pipe.jpg"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    result = finishes(lambda: ingest(IngestConfig(folders_dir, out)), fifos=[fifo])
    assert problems(out)["s03/pipe.jpg"] == ("invalid", "not a regular file (a FIFO); skipped without opening it")
    assert len(result.subjects) == 3 and (out / REPORT_TXT).is_file()


def test_devices_link_loops_and_broken_links_are_invalid_and_the_run_goes_on(folders_dir, tmp_path):
    (folders_dir / "s03" / "zero.jpg").symlink_to("/dev/zero")  # endless: reading it all exhausts memory
    (folders_dir / "s03" / "loop.jpg").symlink_to("loop.jpg")
    (folders_dir / "s03" / "broken.jpg").symlink_to("missing.jpg")
    (folders_dir / "s03" / "folder.jpg").mkdir()
    (folders_dir / "s07" / "up").symlink_to("..")  # a linked folder is not followed
    out = tmp_path / "out"
    with memory_cap():
        result = ingest(IngestConfig(folders_dir, out))
    found = problems(out)
    assert found["s03/zero.jpg"] == ("invalid", "not a regular file (a character device); skipped without opening it")
    assert found["s03/loop.jpg"] == ("invalid", "symbolic link loop")
    assert found["s03/broken.jpg"] == ("invalid", "broken symbolic link")
    assert not any(path.startswith(("s07/up", "s03/folder.jpg")) for path in found)
    assert {s.key for s in result.subjects} == {"folder:s01", "folder:s02", "folder:s07"}
    assert (out / REPORT_TXT).is_file() and load_ingested(out).subjects == result.subjects


def test_huge_files_are_refused_by_their_size_without_reading_them(flat_dir, tmp_path, kit):
    with (flat_dir / "huge.jpg").open("wb") as file:
        file.truncate(300_000_000)  # sparse: ingest would need 300 MB of memory to read it
    out = tmp_path / "out"
    ingest(IngestConfig(flat_dir, out))
    assert problems(out)["huge.jpg"] == ("invalid", "too large: 300 MB, over the 200 MB limit for a photo file")
    small = ingest(IngestConfig(flat_dir, tmp_path / "small", max_file_bytes=100))  # the limit is a setting
    assert not small.subjects
    assert problems(tmp_path / "small")["p1.jpg"][1].startswith("too large")


def _not_utf8(folder, name: bytes, photo) -> None:
    """Copy ``photo`` to ``folder/name``, a name that is not valid UTF-8."""
    with open(os.fsencode(folder) + b"/" + name, "wb") as file:
        file.write(photo.read_bytes())


def test_a_name_that_is_not_utf8_is_invalid_and_pairs_json_and_reports_are_written(flat_dir, tmp_path, kit):
    # a camera shot 10 s after the lone p3.jpg: it would pair with it, but its name cannot be recorded
    partner = kit.write(tmp_path / "partner.jpg", kit.camera_b, kit.t0 + timedelta(seconds=3010), seed=13)
    _not_utf8(flat_dir, b"\xff\xfe.jpg", partner)
    _not_utf8(flat_dir, b"notes\xe9.txt", partner)
    out = tmp_path / "out"
    result = ingest(IngestConfig(flat_dir, out))
    found = problems(out)
    assert found["\\xff\\xfe.jpg"] == ("invalid", NOT_UTF8)
    assert found["notes\\xe9.txt"][0] == "ignored"
    assert found["p3.jpg"][0] == "unpaired"
    for name in (PAIRS_NAME, REPORT_JSON):
        json.loads((out / name).read_bytes().decode("utf-8"))  # valid UTF-8 JSON
    assert "- \\xff\\xfe.jpg: its path is not valid UTF-8" in (out / REPORT_TXT).read_text(encoding="utf-8")
    assert load_ingested(out).subjects == result.subjects and len(result.subjects) == 2


def test_a_subject_folder_that_is_not_utf8_is_reported_in_the_folder_layout(folders_dir, tmp_path):
    folder = os.fsencode(folders_dir) + b"/s\xff08"
    os.mkdir(folder)
    _not_utf8(os.fsdecode(folder), b"phone.jpg", folders_dir / "s01" / "phone.jpg")
    _not_utf8(os.fsdecode(folder), b"camera.jpg", folders_dir / "s07" / "camera" / "y.jpg")
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(app, ["ingest", str(folders_dir), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert f"invalid: s\\xff08/camera.jpg: {NOT_UTF8}" in done.output
    assert problems(out)["s\\xff08/phone.jpg"] == ("invalid", NOT_UTF8)
    assert json.loads((out / PAIRS_NAME).read_text(encoding="utf-8"))["subjects"]


def test_a_source_folder_that_is_not_utf8_stops_before_any_work(tmp_path, kit):
    source = os.fsdecode(os.fsencode(tmp_path) + b"/fotos\xff")
    kit.make_flat(tmp_path / source)
    with pytest.raises(IngestError, match=r"fotos\\xff: the folder's path is not valid UTF-8"):
        ingest(IngestConfig(source, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_photo_replaced_by_a_fifo_after_ingest_is_a_changed_photo(folders_dir, tmp_path):
    out = tmp_path / "out"
    ingest(IngestConfig(folders_dir, out))
    loaded = load_ingested(out)
    photo = loaded.subjects[0].photos[0]
    path = loaded.photo_path(photo)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(PhotoChangedError, match="not a regular file"):
        finishes(lambda: loaded.photo_bytes(photo), fifos=[path])
    path.unlink()
    path.write_bytes(b"\xff\xd8" + b"\0" * (photo.size + 10))
    with pytest.raises(PhotoChangedError, match="its size differs"):
        loaded.photo_bytes(photo)


def test_a_photo_replaced_by_a_fifo_during_a_copying_ingest_stops_it_without_blocking(folders_dir, tmp_path):
    phone = folders_dir / "s01" / "phone.jpg"

    def swap(progress):  # once every photo is read, before the copies: the phone photo becomes a FIFO
        if progress.done == progress.total:
            phone.unlink()
            os.mkfifo(phone)

    config = IngestConfig(folders_dir, tmp_path / "out", copy_files=True)
    with pytest.raises(IngestError, match=r"s01/phone.jpg changed while it was being ingested \(not a regular file"):
        finishes(lambda: ingest(config, on_progress=swap), fifos=[phone])
    assert not (tmp_path / "out" / PAIRS_NAME).exists()
