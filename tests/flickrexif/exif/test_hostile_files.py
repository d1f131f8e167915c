"""Hostile folders for ``scan_file`` / ``iter_photo_paths``: FIFOs, devices, sockets, link loops, odd names.

Every case is one error row and the walk goes on; a FIFO is never opened (opening one blocks until a
writer comes), so the reads run under a deadline that unblocks a stuck reader and fails the test.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
from hang_guard import finishes
from PIL import Image

from flickrexif.exif.read import ExifReadError, check_regular_file, printable_name, read_exif
from flickrexif.exif.scan import iter_photo_paths, scan_file


def _photo(path):
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS 40D"
    Image.new("RGB", (16, 12), (90, 30, 200)).save(path, "JPEG", exif=exif)
    return path


def test_a_fifo_named_jpg_is_an_error_row_and_never_opened(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    row = finishes(lambda: scan_file(fifo), fifos=[fifo])
    assert row["error"] == "not a regular file (a FIFO); skipped without opening it"
    with pytest.raises(ExifReadError, match="not a regular file"):
        finishes(lambda: read_exif(fifo), fifos=[fifo])


def test_dev_zero_behind_a_photo_name_and_a_socket_are_error_rows(tmp_path):
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock.jpg"))
        rows = {row["path"].rsplit("/", 1)[-1]: row["error"] for row in map(scan_file, iter_photo_paths([tmp_path]))}
    assert rows == {
        "sock.jpg": "not a regular file (a socket); skipped without opening it",
        "zero.jpg": "not a regular file (a character device); skipped without opening it",
    }


def test_links_and_folders_named_jpg_are_error_rows(tmp_path):
    _photo(tmp_path / "good.jpg")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "ping.jpg").symlink_to("pong.jpg")
    (tmp_path / "pong.jpg").symlink_to("ping.jpg")
    (tmp_path / "broken.jpg").symlink_to("missing.jpg")
    (tmp_path / "linked.jpg").symlink_to("good.jpg")  # a link to a photo is read as the photo
    (tmp_path / "folder.jpg").mkdir()  # a folder is walked, not read
    rows = {row["path"].rsplit("/", 1)[-1]: row["error"] for row in map(scan_file, iter_photo_paths([tmp_path]))}
    assert rows == {
        "broken.jpg": "broken symbolic link",
        "good.jpg": None,
        "linked.jpg": None,
        "loop.jpg": "symbolic link loop",
        "ping.jpg": "symbolic link loop",
        "pong.jpg": "symbolic link loop",
    }
    assert scan_file(tmp_path / "folder.jpg")["error"] == "is a directory"


def test_linked_folders_are_not_followed_so_a_loop_ends(tmp_path):
    (tmp_path / "a").mkdir()
    _photo(tmp_path / "a" / "x.jpg")
    (tmp_path / "a" / "up").symlink_to("..")  # a/up/a/up/... would never end
    (tmp_path / "a" / "self").symlink_to(".")
    found = finishes(lambda: list(iter_photo_paths([tmp_path])))
    assert found == [tmp_path / "a" / "x.jpg"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_file_that_cannot_be_read_is_an_error_row(tmp_path):
    locked = _photo(tmp_path / "locked.jpg")
    locked.chmod(0)
    assert scan_file(locked)["error"] == "permission denied"


def test_a_name_that_is_not_utf8_is_shown_with_escapes(tmp_path):
    raw = os.fsencode(tmp_path) + b"/\xff\xfe photo.jpg"
    with open(raw, "wb") as file:
        file.write(_photo(tmp_path / "source.jpg").read_bytes())
    (row,) = [scan_file(path) for path in iter_photo_paths([tmp_path]) if path.name != "source.jpg"]
    assert row["path"] == f"{tmp_path}/\\xff\\xfe photo.jpg" and row["error"] is None and row["make"] == "Canon"
    json.dumps(row, ensure_ascii=False).encode("utf-8")  # a row always encodes


def test_printable_name_keeps_utf8_and_escapes_the_rest():
    assert printable_name("Fotos/été [1].jpg") == "Fotos/été [1].jpg"
    assert printable_name(os.fsdecode(b"a\xffb.jpg")) == "a\\xffb.jpg"
    assert printable_name("lone \ud800") == "lone \\ud800"


def test_size_limit_is_read_from_the_file_system_not_the_file(tmp_path):
    big = tmp_path / "big.jpg"
    with big.open("wb") as file:
        file.truncate(300_000_000)  # sparse: no disk, and nothing is read
    with pytest.raises(ExifReadError, match="too large: 300 MB, over the 200 MB limit"):
        check_regular_file(big, max_bytes=200_000_000)
    assert check_regular_file(big).st_size == 300_000_000
